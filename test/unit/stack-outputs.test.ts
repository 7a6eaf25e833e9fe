import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import type { CfnTemplate, ResolveContext } from '#src/local/runtime/cfn-template';
import { MissingOutputError, resolveOutputs } from '#src/local/runtime/outputs';
import { OutputsFileError, readStackOutputs, writeStackOutputs } from '#src/outputs/outputs-file';

const context: ResolveContext = {
  resources: new Map([['Ledger', { ref: 'stack-Ledger', attributes: { Arn: 'arn:ledger' } }]]),
  region: 'us-east-1',
  accountId: '000000000000',
  stackName: 'stack',
};

/** Every output the contract names, each a Ref to the ledger, with the given ones left out. */
function templateWithout(...missing: string[]): CfnTemplate {
  const names = Object.values(WAL_OUTPUTS).filter((name) => !missing.includes(name));
  return {
    Resources: {},
    Outputs: Object.fromEntries(names.map((name) => [name, { Value: { Ref: 'Ledger' } }])),
  };
}

describe('stack outputs, locally resolved', () => {
  it('resolves each output of the contract; ApiUrl is the local API', () => {
    // GIVEN a template with every output / WHEN they are resolved
    const outputs = resolveOutputs(templateWithout(), context, 'http://127.0.0.1:3000');
    // THEN each holds its local value
    expect(outputs.LedgerTableName).toBe('stack-Ledger');
    expect(outputs.ApiUrl).toBe('http://127.0.0.1:3000/');
  });

  it('fails if the template lacks an output of the contract', () => {
    // GIVEN a template without DeadLetterQueueUrl / WHEN resolved / THEN it names the missing output
    expect(() => resolveOutputs(templateWithout('DeadLetterQueueUrl'), context, 'http://x')).toThrow(
      MissingOutputError,
    );
  });
});

describe('stack outputs file', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'wal-outputs-'));
  const fileIn = () => join(mkdtempSync(join(scratch, 'file-')), 'outputs.json');
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('writes the shape of cdk deploy --outputs-file, keeping other stacks', () => {
    // GIVEN a file with one stack's outputs
    const path = fileIn();
    writeStackOutputs(path, 'ServerlessWal-a', { LedgerTableName: 'a-ledger' });
    // WHEN another stack's are written
    writeStackOutputs(path, 'ServerlessWal-b', { LedgerTableName: 'b-ledger' });
    // THEN both are there, by stack name
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      'ServerlessWal-a': { LedgerTableName: 'a-ledger' },
      'ServerlessWal-b': { LedgerTableName: 'b-ledger' },
    });
    expect(readStackOutputs(path, 'ServerlessWal-b').get('LedgerTableName')).toBe('b-ledger');
  });

  it("fails if the file holds only another stage's stack, rather than acting on that stage", () => {
    // GIVEN the file cdk wrote for the prod stack alone
    const path = fileIn();
    writeFileSync(path, JSON.stringify({ 'ServerlessWal-prod': { DeadLetterQueueUrl: 'https://sqs/dlq' } }));
    // WHEN it is read for the default stage / THEN it fails, naming the stack there is and --stage
    expect(() => readStackOutputs(path, 'ServerlessWal-local')).toThrow(
      /no stack ServerlessWal-local \(stacks: ServerlessWal-prod\): pass the --stage/,
    );
    // AND with the stage named, that stack's outputs are read
    expect(readStackOutputs(path, 'ServerlessWal-prod').get('DeadLetterQueueUrl')).toBe('https://sqs/dlq');
  });

  it('fails if the file is not an outputs file, or lacks the output', () => {
    // GIVEN a file in another shape, and one without the output
    const wrongShape = fileIn();
    writeFileSync(wrongShape, '["not", "outputs"]');
    const withoutOutput = fileIn();
    writeFileSync(withoutOutput, JSON.stringify({ 'ServerlessWal-it': {} }));
    // WHEN read / THEN each fails saying why
    expect(() => readStackOutputs(wrongShape, 'ServerlessWal-it')).toThrow(OutputsFileError);
    expect(() => readStackOutputs(withoutOutput, 'ServerlessWal-it').get('RetryQueueUrl')).toThrow(
      /no output RetryQueueUrl/,
    );
  });
});

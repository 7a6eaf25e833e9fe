import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROVISIONED_LOCK_FILE } from '#lib/provisioned-lock';
import { REPO_ROOT } from '#lib/wal-function';

/**
 * Runs the CDK app entry (bin/app.ts) the way `cdk synth -c stage=<stage>` does: the CLI hands the
 * context and the output folder over in CDK_CONTEXT_JSON and CDK_OUTDIR. Bundling is skipped (bundling.test.ts
 * covers it), so is the template validation (cfn-validation.test.ts), and AWS credentials are removed: the synth
 * must work offline. The resources of the nested stacks (the namespaces) are added to the template's, as
 * CloudFormation deploys them.
 */
function synthesize(stage: string): {
  template: { Resources: Record<string, { Type: string }>; Outputs: object };
} {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `wal-synth-${stage}-`));
  try {
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, ...env } = process.env;
    execFileSync(
      process.execPath,
      [path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'bin/app.ts'],
      {
        cwd: REPO_ROOT,
        env: {
          ...env,
          AWS_EC2_METADATA_DISABLED: 'true',
          // The CDK's template validation (only warnings here, 10 to 20 s) runs in cfn-validation.test.ts.
          CDK_VALIDATION: 'false',
          CDK_OUTDIR: outdir,
          CDK_CONTEXT_JSON: JSON.stringify({ stage, 'aws:cdk:bundling-stacks': [] }),
        },
        stdio: 'pipe',
      },
    );
    const file = path.join(outdir, `ServerlessWal-${stage}.template.json`);
    const template = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const nested of fs.readdirSync(outdir).filter((name) => name.endsWith('.nested.template.json'))) {
      Object.assign(
        template.Resources,
        JSON.parse(fs.readFileSync(path.join(outdir, nested), 'utf8')).Resources,
      );
    }
    return { template };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

// GIVEN the real config/prod folder
describe('stage prod (config/prod)', () => {
  let template: ReturnType<typeof synthesize>['template'];

  beforeAll(() => {
    // WHEN the app is synthesized for prod, offline
    template = synthesize('prod').template;
  }, 120_000);

  test('has a namespace parameter for each config/prod/*.json', () => {
    // THEN each namespace file has its SSM parameter, and there is no other
    const names = fs
      .readdirSync(path.join(REPO_ROOT, 'config', 'prod'))
      .filter((file) => file.endsWith('.json') && file !== PROVISIONED_LOCK_FILE)
      .map((file) => `/wal/prod/namespaces/${path.basename(file, '.json')}`);
    expect(names.length).toBeGreaterThan(0);
    const parameters = Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::SSM::Parameter')
      .map((resource) => (resource as unknown as { Properties: { Name: string } }).Properties.Name);
    expect(parameters.sort()).toEqual(names.sort());
  });

  test('retains its data stores', () => {
    // THEN the key, the stream, the tables and the queues are kept when the stack goes
    const retained = Object.values(template.Resources)
      .filter((resource) => (resource as { DeletionPolicy?: string }).DeletionPolicy === 'Retain')
      .map((resource) => resource.Type);
    expect(retained).toEqual(
      expect.arrayContaining([
        'AWS::KMS::Key',
        'AWS::Kinesis::Stream',
        'AWS::DynamoDB::Table',
        'AWS::SQS::Queue',
      ]),
    );
  });

  test('outputs the API URL, the queues and the alarm topic', () => {
    // THEN the outputs tools look resources up by are there
    expect(Object.keys(template.Outputs)).toEqual(
      expect.arrayContaining(['ApiUrl', 'DeadLetterQueueUrl', 'RetryQueueUrl', 'AlarmTopicArn']),
    );
  });
});

test('fails if the stage has no config folder, in one readable line', () => {
  // WHEN the app is synthesized for a stage with no config folder
  let failure: unknown;
  try {
    synthesize('nosuchstage');
  } catch (error) {
    failure = error;
  }
  // THEN it fails with the stage's name on one line
  expect(String((failure as { stderr?: Buffer }).stderr)).toMatch(
    /UnknownStageError: Unknown stage "nosuchstage"/,
  );
}, 120_000);

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { WalOutputName } from '#lib/wal-outputs';

/**
 * A stack outputs file, in the shape `cdk deploy --outputs-file` writes: `{ "<StackName>": { "<OutputName>":
 * "value" } }`. The local runtime writes one too (`<dataDir>/outputs.json`), so tools read both alike.
 */
export type OutputsFile = Record<string, Record<string, string>>;

/** The outputs file the local runtime writes into its data dir. */
export const OUTPUTS_FILE_NAME = 'outputs.json';

/**
 * What only the local runtime adds to its outputs file (no stack output: a deployed stack has no such
 * thing): the endpoint of its Parameter Store, where `wal ns` reads and writes the namespace parameters,
 * and those of its Kinesis and DynamoDB, where `wal replay` reads the stream and the ledger.
 */
export const LOCAL_OUTPUTS = {
  ssmEndpoint: 'LocalSsmEndpoint',
  kinesisEndpoint: 'LocalKinesisEndpoint',
  dynamodbEndpoint: 'LocalDynamoDbEndpoint',
} as const;
export type LocalOutputName = (typeof LOCAL_OUTPUTS)[keyof typeof LOCAL_OUTPUTS];

/** The stack of a stage, as bin/app.ts names it: its key in an outputs file. */
export function walStackName(stage: string): string {
  return `ServerlessWal-${stage}`;
}

export class OutputsFileError extends Error {
  constructor(
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot use the stack outputs file ${path}: ${problem}`, options);
    this.name = 'OutputsFileError';
  }
}

/** Sets the stack's outputs in the file, keeping other stacks' (a data dir may have served several stages). */
export function writeStackOutputs(
  path: string,
  stackName: string,
  outputs: Readonly<Record<string, string>>,
) {
  let file: OutputsFile = {};
  try {
    file = parseOutputsFile(path, readFileSync(path, 'utf8'));
  } catch {
    // No file yet, or an unreadable one: this run's outputs replace it.
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ ...file, [stackName]: outputs }, null, 2)}\n`);
}

/**
 * One stack's outputs from the file: the stack named `stackName`, and no other, so a redrive never acts on
 * another stage's queues because it happens to be the only stack in the file.
 */
export function readStackOutputs(path: string, stackName: string): StackOutputs {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OutputsFileError(
      path,
      `it cannot be read (${describe(error)}). The local WAL writes it when it starts ("npm start"); for a ` +
        'deployed stack pass the file "cdk deploy --outputs-file" wrote, or --dlq-url and --retry-queue-url.',
      { cause: error },
    );
  }
  const file = parseOutputsFile(path, text);
  const stacks = Object.keys(file);
  const chosen = file[stackName];
  if (!chosen) {
    throw new OutputsFileError(
      path,
      `it has no stack ${stackName} (stacks: ${stacks.length > 0 ? stacks.join(', ') : 'none'}): ` +
        'pass the --stage of the stack you mean',
    );
  }
  return new StackOutputs(path, chosen);
}

/** The outputs of one stack, as read from a file. */
export class StackOutputs {
  constructor(
    readonly path: string,
    private readonly values: Readonly<Record<string, string>>,
  ) {}

  get(name: WalOutputName | LocalOutputName): string {
    const value = this.values[name];
    if (value === undefined) throw new OutputsFileError(this.path, `its stack has no output ${name}`);
    return value;
  }

  /** An output that only some files have (the local runtime's endpoints); undefined when absent. */
  find(name: WalOutputName | LocalOutputName): string | undefined {
    return this.values[name];
  }
}

function parseOutputsFile(path: string, text: string): OutputsFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new OutputsFileError(path, `it is not JSON (${describe(error)})`, { cause: error });
  }
  const isRecord = (candidate: unknown): candidate is Record<string, unknown> =>
    typeof candidate === 'object' && candidate !== null && !Array.isArray(candidate);
  if (!isRecord(value) || !Object.values(value).every(isRecord)) {
    throw new OutputsFileError(path, 'expected { "<StackName>": { "<OutputName>": "value" } }');
  }
  return value as OutputsFile;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import { join, resolve } from 'node:path';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { parseNamespaceConfig, targetResource } from '#lambdas/shared/namespace-config';
import { type LocalWal, startLocalWal } from '#src/local/runtime/local-wal';
import { synthesizeStack } from '#src/local/runtime/synthesize';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** Ports people already know; each can be overridden by a flag. */
export const DEFAULT_PORTS = {
  api: 3000,
  dynamodb: 8000,
  kinesis: 4567,
  sqs: 9324,
  ssm: 4583,
  sinks: 4599,
} as const;

export interface LocalOptions {
  readonly stage: string;
  readonly host: string;
  readonly ports: { api: number; dynamodb: number; kinesis: number; sqs: number; ssm: number; sinks: number };
  /** Where DynamoDB, Kinesis, SSM, stream checkpoints and SQS messages are kept; undefined keeps them in memory. */
  readonly dataDir?: string;
  readonly configDir?: string;
  /** Where the stack's outputs are written (for `wal dlq`), in the shape of `cdk deploy --outputs-file`. */
  readonly outputsFile: string;
}

export const DEFAULT_DATA_DIR = join(REPO_ROOT, '.wal-data');

/** `wal local`: the whole WAL on this machine, wired from the synthesized template of the stage. */
export async function startLocal(options: LocalOptions, print: (line: string) => void): Promise<LocalWal> {
  const started = Date.now();
  print(`serverless-wal: synthesizing stage "${options.stage}" and starting the emulators...`);
  const { stackName, template } = synthesizeStack(options.stage, {
    ...(options.configDir ? { configDir: options.configDir } : {}),
  });
  const { api, ...emulatorPorts } = options.ports;
  const wal = await startLocalWal({
    stackName,
    template,
    repoRoot: REPO_ROOT,
    host: options.host,
    apiPort: api,
    ports: emulatorPorts,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    outputsFile: options.outputsFile,
  });
  const namespaces = await describeNamespaces(wal);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const { endpoints } = wal.emulators;
  print(
    [
      `serverless-wal local (stage ${options.stage}) ready in ${seconds} s`,
      `  API        ${wal.apiUrl}   (POST /v1/namespaces/{ns}/mutations, GET /v1/health)`,
      `  DynamoDB   ${endpoints.dynamodb}`,
      `  Kinesis    ${endpoints.kinesis}`,
      `  SQS        ${endpoints.sqs}`,
      `  SSM        ${endpoints.ssm}`,
      `  Sinks      ${endpoints.sinks}   (SNS, EventBridge and Lambda targets; "wal sinks" lists what they got)`,
      ...namespaces.map((line, index) => `  ${index === 0 ? 'Namespaces' : '          '} ${line}`),
      options.dataDir
        ? `  State      ${options.dataDir} (DynamoDB, Kinesis, SSM, stream checkpoints, SQS messages, sinks)`
        : '  State      in memory (pass --data-dir to keep it)',
      `  Outputs    ${options.outputsFile} (what "wal dlq" and "wal ns" read)`,
      `Try:  npm run wal -- put ${namespaces.length > 0 ? (namespaces[0]?.split(' ')[0] ?? 'demo') : 'demo'} --payload '{"id":"a1","n":1}'`,
      'Ctrl-C stops everything.',
    ].join('\n'),
  );
  return wal;
}

/** `demo -> main (dynamodb table ...)` for each namespace parameter of the template. */
async function describeNamespaces(wal: LocalWal): Promise<string[]> {
  const lines: string[] = [];
  for (const name of wal.provisioned.parameters) {
    const answer = await wal.clients.ssm.send(new GetParameterCommand({ Name: name }));
    const config = parseNamespaceConfig(JSON.parse(answer.Parameter?.Value ?? '{}'), name);
    const targets = config.targets.map((target) =>
      `${target.name} (${target.type} ${targetResource(target) ?? ''})`.trim(),
    );
    lines.push(`${config.name}${config.enabled ? '' : ' [disabled]'} -> ${targets.join(', ')}`);
  }
  return lines;
}

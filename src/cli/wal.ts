// Local tooling runs on Node 20; Lambda runs Node 22. The SDK's reminder about it is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OUTPUTS_FILE_NAME } from '#src/outputs/outputs-file';
import { runDlqCommand } from './commands/dlq';
import { formatMutation, getMutation } from './commands/get';
import { DEFAULT_DATA_DIR, DEFAULT_PORTS, startLocal } from './commands/local';
import { runNsCommand } from './commands/ns';
import { putMutation } from './commands/put';
import { formatSummary, putFile } from './commands/put-file';
import { runReplayCommand } from './commands/replay';
import { runSinksCommand } from './commands/sinks';
import { DEFAULT_LOCAL_ENDPOINT, type WalHttpAnswer } from './http-client';
import { runTool } from './run-tool';
import { UsageError } from './usage-error';

const HELP = `wal: the serverless-wal command line

  wal local [--stage local] [--data-dir DIR | --in-memory] [--host 127.0.0.1] [--outputs-file FILE]
            [--port 3000] [--dynamodb-port 8000] [--kinesis-port 4567] [--sqs-port 9324] [--ssm-port 4583]
            [--sinks-port 4599]
      Runs the whole WAL on this machine (emulators + the real handlers), wired from the stage's template.
      Writes the stack's outputs as "cdk deploy --outputs-file" does, to FILE (default DIR/outputs.json, also
      with --in-memory).
  wal put <namespace> --payload <json|@file> [--key K] [--delay S] [--op put|delete] [--endpoint URL]
      Logs a mutation. Prints the answer ({ id, durable, sequence }).
  wal get <namespace> <id> [--key K] [--full] [--json] [--endpoint URL]
      Shows a committed mutation as the ledger knows it (state, times) and each target's state: pending, delayed,
      held back, applied, superseded, retrying (attempts, last error, next attempt), dead-lettered (reason), or
      not tracked (README "Status of a mutation"). A mutation sent with an idempotency key is found by it: give
      --key (the ledger has no index by id). --full also reads its payload back from the stream (within the
      stream's retention; it shares the shard's 5 reads/s with the consumers). --json prints the answer as is.
  wal put <namespace> --file mutations.jsonl [--endpoint URL]
      Logs one mutation per line (the body of a single POST), through the batch endpoint, up to 100 per
      request, with a progress bar on stderr; prints how many succeeded and each failure with its line
      number. Lines that are not JSON objects are reported and not sent. A line without "idempotencyKey"
      gets a key derived from the file's path, the line's number and its text, so UNKNOWN and 5xx answers
      are retried safely with the same key, and rerunning the same file applies nothing twice.
  wal dlq list | peek [-n 10] | redrive [--rate N]  [--stage local] [--data-dir DIR] [--sqs-endpoint URL] [--json]
  wal dlq ... --outputs-file FILE | --dlq-url URL [--retry-queue-url URL]
      The dead-letter queue: count, oldest message and reasons (list); the first N messages with namespace, id,
      target, attempts, last error and reason (peek; messages stay on the queue); redrive moves them to the retry
      queue (StartMessageMoveTask, at most N/s) and shows progress. The queues are the stack's outputs
      DeadLetterQueueUrl and RetryQueueUrl: locally from the running WAL's DIR/outputs.json (default .wal-data);
      for a deployed stack from the file "cdk deploy --outputs-file FILE" wrote, or given as URLs (AWS
      credentials and the URL's region are used). See docs/runbook.md.
  wal replay <namespace> --from <time> --to <time> [--skip id,...] [--target NAME] [--dry-run] [--rate N]
             [--checkpoint FILE] [--stage local] [--data-dir DIR | --outputs-file FILE]
  wal replay <namespace> | --all-namespaces --shard S --from-sequence A --to-sequence B ...
      Re-delivers the committed mutations logged in a window (times: ISO 8601 with a zone, or epoch ms; or one
      shard's sequence range, as a stream-failure DLQ message names it) to the namespace's retry queue, one
      "deliver" message per target (--target: that one only), leaving out the --skip ids and anything the
      ledger does not show COMMITTED. The consumers apply them in the WAL's order, idempotently. Reads the WAL
      stream, so it reaches back only as far as the stream's retention (24 h; prod 7 days). A progress bar on
      stderr; --rate N mutations per second; after each send the checkpoint FILE (default
      ./wal-replay-<namespace>-<window>-<hash>.json) records where it is: Ctrl-C, then the same command,
      resumes. --dry-run lists what it would deliver and sends nothing. See docs/runbook.md, Replay.
  wal ns validate <namespace.json> [more.json ...]
      Checks namespace files as "cdk synth" does (JSON, the schema with the path of each mistake, the file
      name = the namespace name). One line per file; exit 1 if any is invalid.
  wal ns list | get <name> | set <name> --file <name>.json [--dry-run] | enable <name> | disable <name>
  wal ns ...  [--stage local] [--data-dir DIR | --outputs-file FILE | --ssm-endpoint URL]
      The namespace parameters (/wal/<stage>/namespaces/<name>) the functions read, hot: list shows each
      namespace's state, version and targets (type and resource); get prints one parameter's JSON; set checks
      the file as "cdk synth" does, keeps the resources the stack provisioned (provision: true), shows the diff
      and writes it with the version raised (--dry-run: the diff only); enable/disable flip "enabled". The
      functions apply a change within the stage's config max age (5 s local, 60 s otherwise). Locally the SSM
      endpoint is read from the running WAL's DIR/outputs.json (default .wal-data) unless --ssm-endpoint
      gives it; "--stage S" (not local) alone works on the deployed stage with your AWS credentials and
      region. A deployed parameter belongs to CloudFormation: the next "cdk deploy" writes config/<stage>/
      back over a change made here, so make it there too (locally: the next "wal local" start).
  wal sinks [--target NAME] [--data-dir DIR] [-n 3]
      What the local sinks (the SNS, EventBridge and Lambda targets of "wal local") received: per topic, bus or
      function, the count and the last N messages. --target keeps resources whose ARN contains NAME or messages
      for the WAL target NAME. Reads DIR/sinks.jsonl (default .wal-data; none with --in-memory).

--endpoint defaults to $WAL_ENDPOINT or ${DEFAULT_LOCAL_ENDPOINT} (the local runtime). An https endpoint (a
deployed stack's ApiUrl) is called with SigV4 signatures from your AWS credentials.`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  local: runLocal,
  put: runPut,
  get: runGet,
  dlq: runDlq,
  ns: runNs,
  sinks: runSinks,
  replay: runReplay,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return command ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`Unknown command "${command}". Run "wal --help" for the commands.`);
  return run(rest);
}

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    throw new UsageError(`${flag} must be a port number (0 for a free one), not "${value}".`);
  }
  return parsed;
}

function printAnswer(answer: WalHttpAnswer): number {
  console.log(JSON.stringify(answer.body, null, 2));
  return answer.status >= 200 && answer.status < 300 ? 0 : 1;
}

const defaultEndpoint = () => process.env.WAL_ENDPOINT ?? DEFAULT_LOCAL_ENDPOINT;

async function runLocal(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      stage: { type: 'string', default: 'local' },
      'data-dir': { type: 'string' },
      'in-memory': { type: 'boolean', default: false },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      'dynamodb-port': { type: 'string' },
      'kinesis-port': { type: 'string' },
      'sqs-port': { type: 'string' },
      'ssm-port': { type: 'string' },
      'sinks-port': { type: 'string' },
      'config-dir': { type: 'string' },
      'outputs-file': { type: 'string' },
    },
  });
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  const wal = await startLocal(
    {
      stage: values.stage,
      host: values.host,
      ports: {
        api: port(values.port, DEFAULT_PORTS.api, '--port'),
        dynamodb: port(values['dynamodb-port'], DEFAULT_PORTS.dynamodb, '--dynamodb-port'),
        kinesis: port(values['kinesis-port'], DEFAULT_PORTS.kinesis, '--kinesis-port'),
        sqs: port(values['sqs-port'], DEFAULT_PORTS.sqs, '--sqs-port'),
        ssm: port(values['ssm-port'], DEFAULT_PORTS.ssm, '--ssm-port'),
        sinks: port(values['sinks-port'], DEFAULT_PORTS.sinks, '--sinks-port'),
      },
      ...(values['in-memory'] ? {} : { dataDir }),
      outputsFile: resolve(values['outputs-file'] ?? join(dataDir, OUTPUTS_FILE_NAME)),
      ...(values['config-dir'] ? { configDir: resolve(values['config-dir']) } : {}),
    },
    (line) => console.log(line),
  );
  await new Promise<void>((done) => {
    // Stays installed while stopping: a second Ctrl-C (or the one tsx relays) must not kill a half-stopped runtime.
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      console.log('serverless-wal: stopping...');
      wal.stop().then(done, done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.log('serverless-wal: stopped.');
  return 0;
}

async function runPut(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      payload: { type: 'string' },
      file: { type: 'string' },
      key: { type: 'string' },
      delay: { type: 'string' },
      op: { type: 'string' },
      endpoint: { type: 'string', default: defaultEndpoint() },
    },
  });
  const [namespace] = positionals;
  if (namespace && values.file !== undefined && values.payload === undefined) {
    return runPutFile(values.endpoint, namespace, values.file);
  }
  if (!namespace || values.payload === undefined || values.file !== undefined) {
    throw new UsageError(
      'usage: wal put <namespace> --payload <json|@file> [--key K] [--delay S] | wal put <namespace> --file F.jsonl',
    );
  }
  const delaySeconds = values.delay === undefined ? undefined : Number(values.delay);
  if (delaySeconds !== undefined && !Number.isInteger(delaySeconds)) {
    throw new UsageError(`--delay must be whole seconds, not "${values.delay}".`);
  }
  return printAnswer(
    await putMutation({
      endpoint: values.endpoint,
      namespace,
      payload: values.payload,
      ...(values.key ? { key: values.key } : {}),
      ...(values.op ? { op: values.op } : {}),
      ...(delaySeconds !== undefined ? { delaySeconds } : {}),
    }),
  );
}

async function runPutFile(endpoint: string, namespace: string, file: string): Promise<number> {
  const summary = await putFile({
    endpoint,
    namespace,
    file,
    progress: (line) => process.stderr.write(`\r${line}`),
  });
  process.stderr.write('\n');
  console.log(formatSummary(file, summary));
  return summary.failed.length === 0 && summary.badLines.length === 0 ? 0 : 1;
}

async function runGet(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      key: { type: 'string' },
      full: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      endpoint: { type: 'string', default: defaultEndpoint() },
    },
  });
  const [namespace, id] = positionals;
  if (!namespace || !id) throw new UsageError('usage: wal get <namespace> <id> [--key K] [--full] [--json]');
  const answer = await getMutation(values.endpoint, namespace, id, {
    ...(values.key !== undefined ? { key: values.key } : {}),
    full: values.full,
  });
  if (values.json || answer.status !== 200) return printAnswer(answer);
  console.log(formatMutation(answer.body).join('\n'));
  // With --full, the envelope's fields follow as JSON.
  if (values.full) console.log(JSON.stringify(answer.body, null, 2));
  return 0;
}

async function runNs(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      stage: { type: 'string' },
      'data-dir': { type: 'string' },
      'outputs-file': { type: 'string' },
      'ssm-endpoint': { type: 'string' },
      file: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  return runNsCommand(
    subcommand,
    positionals,
    {
      dryRun: values['dry-run'],
      ...(values.stage !== undefined ? { stage: values.stage } : {}),
      ...(values['data-dir'] !== undefined ? { dataDir: resolve(values['data-dir']) } : {}),
      ...(values['outputs-file'] !== undefined ? { outputsFile: resolve(values['outputs-file']) } : {}),
      ...(values['ssm-endpoint'] !== undefined ? { ssmEndpoint: values['ssm-endpoint'] } : {}),
      ...(values.file !== undefined ? { file: values.file } : {}),
    },
    (line) => console.log(line),
  );
}

async function runSinks(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: 'string' },
      'data-dir': { type: 'string' },
      n: { type: 'string', short: 'n' },
    },
  });
  const last = values.n === undefined ? undefined : Number(values.n);
  if (last !== undefined && (!Number.isInteger(last) || last < 0)) {
    throw new UsageError(`-n must be a whole number of messages, not "${values.n}".`);
  }
  return runSinksCommand(
    {
      dataDir: resolve(values['data-dir'] ?? DEFAULT_DATA_DIR),
      ...(values.target !== undefined ? { target: values.target } : {}),
      ...(last !== undefined ? { last } : {}),
    },
    (line) => console.log(line),
  );
}

async function runDlq(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      stage: { type: 'string', default: 'local' },
      'data-dir': { type: 'string' },
      'outputs-file': { type: 'string' },
      'sqs-endpoint': { type: 'string' },
      'dlq-url': { type: 'string' },
      'retry-queue-url': { type: 'string' },
      n: { type: 'string', short: 'n' },
      rate: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values['outputs-file'] !== undefined && values['data-dir'] !== undefined) {
    throw new UsageError('--outputs-file and --data-dir both name the outputs file: pass one.');
  }
  const outputsFile = resolve(
    values['outputs-file'] ?? join(values['data-dir'] ?? DEFAULT_DATA_DIR, OUTPUTS_FILE_NAME),
  );
  return runDlqCommand(
    subcommand,
    {
      stage: values.stage,
      outputsFile,
      json: values.json,
      ...(values['sqs-endpoint'] !== undefined ? { sqsEndpoint: values['sqs-endpoint'] } : {}),
      ...(values['dlq-url'] !== undefined ? { dlqUrl: values['dlq-url'] } : {}),
      ...(values['retry-queue-url'] !== undefined ? { retryQueueUrl: values['retry-queue-url'] } : {}),
      ...(values.n !== undefined ? { count: values.n } : {}),
      ...(values.rate !== undefined ? { rate: values.rate } : {}),
    },
    { print: (line) => console.log(line), progress: process.stdout, now: () => Date.now() },
  );
}

async function runReplay(args: string[]): Promise<number> {
  const controller = new AbortController();
  // The first Ctrl-C stops after the messages in flight and keeps the checkpoint; a second one kills.
  process.once('SIGINT', () => {
    process.stderr.write('\nwal replay: stopping after the messages in flight (Ctrl-C again to kill)...\n');
    controller.abort();
  });
  return runReplayCommand(args, {
    print: (line) => console.log(line),
    progress: process.stderr,
    signal: controller.signal,
    now: () => Date.now(),
  });
}

runTool(() => main(process.argv.slice(2)), { failure: 1, usage: 2 });

import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { createRequestHandler } from 'local-aws-sqs';
import { DEFAULT_LOCAL_HOST, DEFAULT_LOCAL_REGION, LOCAL_ACCOUNT_ID } from './constants';
import { lockDataDir } from './data-dir-lock';
import { startTransactionServer } from './dynamo-transactions/transaction-server';
import { close, endpointUrl, listen, urlHost } from './http-server';
import type { SinkJournal } from './sinks/sink-journal';
import { startSinks } from './sinks/sinks-server';
import { persistSqs } from './sqs-journal/persistent-sqs';
import { startSsmServer } from './ssm-server';

export { DataDirInUseError } from './data-dir-lock';

/** The SQS journal's file in a data dir (see src/local/sqs-journal). */
export const SQS_JOURNAL_FILE = 'sqs-journal.log';

/** The undo journal of a DynamoDB transaction being applied, in a data dir (src/local/dynamo-transactions). */
const DYNAMODB_UNDO_JOURNAL_FILE = 'dynamodb-transaction.undo.json';

/** `sinks` stands in for the SNS, EventBridge and Lambda targets (src/local/sinks). */
export const EMULATOR_NAMES = ['dynamodb', 'kinesis', 'sqs', 'ssm', 'sinks'] as const;
export type EmulatorName = (typeof EMULATOR_NAMES)[number];

export interface EmulatorsOptions {
  /** Interface to bind; 127.0.0.1 by default. */
  host?: string;
  /** Port per emulator; 0 (the default) picks a free one. */
  ports?: Partial<Record<EmulatorName, number>>;
  /**
   * Keeps DynamoDB, Kinesis, SSM and SQS state here across restarts (all in memory when absent).
   * One set of emulators at a time may use it: a second start fails with DataDirInUseError.
   */
  dataDir?: string;
  region?: string;
}

export interface Emulators {
  endpoints: Record<EmulatorName, string>;
  region: string;
  /** What the SNS, EventBridge and Lambda sinks received; tests program their failures here. */
  sinks: SinkJournal;
  /** Variables that point the AWS SDK v3 clients at the emulators. */
  env(): Record<string, string>;
  /** Closes every server and socket; safe to call more than once. */
  stop(): Promise<void>;
}

export class EmulatorStartError extends Error {
  constructor(
    readonly emulator: EmulatorName,
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    super(
      `Cannot start the ${emulator} emulator on ${host}:${port}: ${describe(cause)}. ${advice(emulator, port, cause)}`,
      {
        cause,
      },
    );
    this.name = 'EmulatorStartError';
  }
}

class EmulatorStopError extends Error {
  constructor(cause: AggregateError) {
    super(`Could not stop every emulator cleanly: ${cause.errors.map(describe).join('; ')}`, { cause });
    this.name = 'EmulatorStopError';
  }
}

/** Starts DynamoDB (dynalite), Kinesis (kinesalite), SQS (local-aws-sqs), SSM and the target sinks in this process. */
export async function startEmulators(options: EmulatorsOptions = {}): Promise<Emulators> {
  const host = options.host ?? DEFAULT_LOCAL_HOST;
  const region = options.region ?? DEFAULT_LOCAL_REGION;
  let unlock = (): void => undefined;
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    unlock = lockDataDir(options.dataDir);
  }

  const outcomes = await Promise.all(
    EMULATOR_NAMES.map(async (name): Promise<Outcome> => {
      const port = options.ports?.[name] ?? 0;
      try {
        return { name, emulator: await STARTERS[name]({ host, port, region, dataDir: options.dataDir }) };
      } catch (err) {
        return { name, error: new EmulatorStartError(name, host, port, err) };
      }
    }),
  );
  const running = outcomes.flatMap((outcome) => ('emulator' in outcome ? [outcome.emulator] : []));
  const failure = outcomes.find((outcome): outcome is Failed => 'error' in outcome);
  if (failure) {
    await Promise.allSettled(running.map((emulator) => emulator.stop()));
    unlock();
    throw failure.error;
  }

  const endpoints = Object.fromEntries(
    outcomes.flatMap((outcome) => ('emulator' in outcome ? [[outcome.name, outcome.emulator.endpoint]] : [])),
  ) as Record<EmulatorName, string>;
  let stopping: Promise<void> | undefined;
  const sinks = running.find((emulator) => emulator.sinks !== undefined)?.sinks as SinkJournal;
  return {
    endpoints,
    region,
    sinks,
    env: () => ({
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_KINESIS: endpoints.kinesis,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_SSM: endpoints.ssm,
      AWS_ENDPOINT_URL_SNS: endpoints.sinks,
      AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.sinks,
      AWS_ENDPOINT_URL_LAMBDA: endpoints.sinks,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    }),
    stop: () => {
      stopping ??= stopAll(running).finally(unlock);
      return stopping;
    },
  };
}

interface RunningEmulator {
  endpoint: string;
  stop(): Promise<void>;
  /** The sinks' journal (the sinks only). */
  sinks?: SinkJournal;
}

interface StartContext {
  host: string;
  port: number;
  region: string;
  dataDir?: string;
}

type Outcome = { name: EmulatorName; emulator: RunningEmulator } | Failed;
type Failed = { name: EmulatorName; error: EmulatorStartError };

const STARTERS: Record<EmulatorName, (context: StartContext) => Promise<RunningEmulator>> = {
  dynamodb: startDynamodb,
  kinesis: startKinesis,
  sqs: startSqs,
  ssm: async ({ host, port, region, dataDir }) =>
    startSsmServer({ host, port, region, persistPath: dataDir && join(dataDir, 'ssm.json') }),
  sinks: async ({ host, port, dataDir }) => {
    const sinks = await startSinks({ host, port, dataDir });
    return { endpoint: sinks.endpoint, stop: () => sinks.stop(), sinks: sinks.journal };
  },
};

async function startDynamodb({ host, port, region, dataDir }: StartContext): Promise<RunningEmulator> {
  const server = withAwsEnv(region, () =>
    dynalite({
      path: dataDir && join(dataDir, 'dynamodb'),
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
    }),
  );
  // dynalite lacks TransactWriteItems: a layer in front of it implements them (src/local/dynamo-transactions).
  return startTransactionServer({
    dynalite: server,
    host,
    port,
    undoJournalPath: dataDir && join(dataDir, DYNAMODB_UNDO_JOURNAL_FILE),
  });
}

async function startKinesis({ host, port, region, dataDir }: StartContext): Promise<RunningEmulator> {
  const server = withAwsEnv(region, () =>
    kinesalite({
      path: dataDir && join(dataDir, 'kinesis'),
      createStreamMs: 0,
      deleteStreamMs: 0,
      updateStreamMs: 0,
      shardLimit: 100,
    }),
  );
  // kinesalite closes its store before the HTTP server, so close() releases it even here.
  return listenOrRelease(server, host, port, () => close(server));
}

/** Listens; if that fails, releases the emulator's store (how is the emulator's) before failing. */
async function listenOrRelease(
  server: Server,
  host: string,
  port: number,
  release: () => Promise<void>,
): Promise<RunningEmulator> {
  try {
    return { endpoint: endpointUrl(host, await listen(server, port, host)), stop: () => close(server) };
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
}

async function startSqs({ host, port, region, dataDir }: StartContext): Promise<RunningEmulator> {
  const { service, requestHandler } = createRequestHandler({
    port,
    hostname: urlHost(host),
    region,
    accountId: LOCAL_ACCOUNT_ID,
    emulateQueueCreationLifecycle: false,
  });
  // local-aws-sqs keeps messages in memory only: with a data dir, a journal makes them durable.
  const persistence = dataDir ? persistSqs(service, join(dataDir, SQS_JOURNAL_FILE)) : undefined;
  // createSqsServer never settles when listen fails, so this module owns the HTTP server.
  const server: Server = createServer((req, res) => {
    // A queue created by a request gets its journaled messages back before anyone can use it.
    persistence?.attachNewQueues();
    void requestHandler(req, res).finally(() => persistence?.attachNewQueues());
  });
  let bound: number;
  try {
    bound = await listen(server, port, host);
  } catch (err) {
    persistence?.close();
    throw err;
  }
  // Queue URLs are built from PORT: they must name the port actually bound, so SDKs can follow them.
  service.PORT = bound;
  return {
    endpoint: endpointUrl(host, bound),
    stop: async () => {
      // First: the reset below empties every queue, which must not reach the journal.
      persistence?.close();
      // Drops messages and their (unref'd) visibility and retention timers.
      service.resetAll();
      await close(server);
    },
  };
}

/**
 * dynalite and kinesalite read the region and account for their ARNs from the environment when
 * they are created: set both for that synchronous call only, so all emulators' ARNs agree.
 */
function withAwsEnv<T>(region: string, create: () => T): T {
  const saved = { AWS_REGION: process.env.AWS_REGION, AWS_ACCOUNT_ID: process.env.AWS_ACCOUNT_ID };
  process.env.AWS_REGION = region;
  process.env.AWS_ACCOUNT_ID = LOCAL_ACCOUNT_ID;
  try {
    return create();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

async function stopAll(running: RunningEmulator[]): Promise<void> {
  const results = await Promise.allSettled(running.map((emulator) => emulator.stop()));
  const errors = results.flatMap((result) =>
    result.status === 'rejected' ? [result.reason as unknown] : [],
  );
  if (errors.length > 0) throw new EmulatorStopError(new AggregateError(errors));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function advice(emulator: EmulatorName, port: number, cause: unknown): string {
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  if (code === 'EADDRINUSE') {
    return `Port ${port} is taken: pass another port (ports.${emulator}), or 0 for a free one, or stop what holds it.`;
  }
  if (code === 'EACCES') return `Port ${port} needs privileges: pass a port above 1023, or 0 for a free one.`;
  return 'Check the host, the port and the data directory.';
}

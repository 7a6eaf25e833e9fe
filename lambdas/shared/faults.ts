import * as z from 'zod/mini';
import './zod-locale';

/**
 * Fault injection for the chaos tests: AWS SDK middleware that fails, throttles, loses answers
 * ("the request reached the service, the response did not") or slows calls, and crash points that
 * end the runtime between named steps. Off unless WAL_FAULTS holds a config; never set in a stack.
 */
export const FAULTS_ENV = 'WAL_FAULTS';

/**
 * `false` in deployed bundles: lib/wal-function.ts's esbuild `define` replaces it, and esbuild drops
 * the fault code below as dead code, so no production function can crash itself or fail its calls.
 * Undeclared where the TypeScript source runs (local runtime, jest, tsx): fault injection stays on.
 * Each check reads it inline (`typeof`, which is safe for an undeclared global) so esbuild can fold it.
 */
declare const WAL_FAULT_INJECTION: boolean | undefined;

export const CRASH_POINTS = [
  'after-prepare',
  'after-commit',
  'after-target-write',
  'before-batch-response',
  // The waiting room poller sent a page, its checkpoint has not moved: the next run sends the page again.
  'before-waiting-room-checkpoint',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/**
 * error/throttle: the call fails before it is sent. timeout-after: it reaches the service, its answer
 * is lost. duplicate: it reaches the service twice, as an SDK retry after a lost answer does.
 * latency: it is slow.
 */
const FAULT_KINDS = ['error', 'throttle', 'timeout-after', 'duplicate', 'latency'] as const;

/**
 * An outage: every call whose resource (TableName, QueueUrl, StreamName/StreamARN, an SSM Name, the tables of a
 * batch or transaction) contains `resource` fails from `from` to `to` (epoch ms), as when one
 * dependency is down for a while. Absolute times, so every function sees the same window.
 */
function outageSchema() {
  return z
    .strictObject({
      resource: z.string().check(z.minLength(1)),
      from: z.number().check(z.int()),
      to: z.number().check(z.int()),
    })
    .check(z.refine((outage) => outage.to >= outage.from, { message: '"to" must not be before "from"' }));
}

export type Outage = z.infer<ReturnType<typeof outageSchema>>;

/**
 * Built on first use, not at module load: a deployed bundle never calls it (WAL_FAULT_INJECTION is false), so
 * esbuild drops the schemas with the rest of the fault code, and no cold start pays for building them.
 */
function faultConfigSchema() {
  return z.strictObject({
    /** Share of matching SDK calls that get a fault. */
    rate: z._default(z.number().check(z.gte(0), z.lte(1)), 0),
    /** Operation names (`PutRecord`, `PutItem`, ...); all when absent. */
    operations: z.optional(z.array(z.string())),
    kinds: z._default(z.array(z.enum(FAULT_KINDS)).check(z.minLength(1)), [...FAULT_KINDS]),
    latencyMs: z._default(z.number().check(z.int(), z.gte(0)), 200),
    /** Share of passes through each enabled crash point that end the runtime. */
    crashRate: z._default(z.number().check(z.gte(0), z.lte(1)), 0),
    crashPoints: z._default(z.array(z.enum(CRASH_POINTS)), [...CRASH_POINTS]),
    /** Only functions whose name contains one of these (AWS_LAMBDA_FUNCTION_NAME); all when absent. */
    functions: z.optional(z.array(z.string())),
    outages: z._default(z.array(outageSchema()), []),
  });
}

export type FaultConfig = z.output<ReturnType<typeof faultConfigSchema>>;

export class InvalidFaultConfigError extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`${FAULTS_ENV} is not a valid fault config: ${detail}`, options);
    this.name = 'InvalidFaultConfigError';
  }
}

/** A fault the injector raised: named like the service error it stands for, so code treats it alike. */
class InjectedFaultError extends Error {
  readonly $fault = 'server';
  readonly $metadata = { httpStatusCode: 503 };
  constructor(name: string, operation: string) {
    super(`injected ${name} on ${operation}`);
    this.name = name;
  }
}

export function parseFaultConfig(text: string | undefined): FaultConfig | undefined {
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidFaultConfigError('not JSON', { cause: error });
  }
  const result = faultConfigSchema().safeParse(json);
  if (!result.success) throw new InvalidFaultConfigError(result.error.message, { cause: result.error });
  return result.data;
}

/** The config for this function, or undefined when faults are off for it. */
export function activeFaultConfig(env: NodeJS.ProcessEnv = process.env): FaultConfig | undefined {
  const config = parseFaultConfig(env[FAULTS_ENV]);
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME ?? '';
  if (config?.functions && !config.functions.some((part) => functionName.includes(part))) return undefined;
  return config;
}

const activeConfig =
  typeof WAL_FAULT_INJECTION === 'boolean' && !WAL_FAULT_INJECTION ? undefined : activeFaultConfig();

interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

const THROTTLE_NAMES: Record<string, string> = {
  Kinesis: 'ProvisionedThroughputExceededException',
  DynamoDB: 'ProvisionedThroughputExceededException',
};

/** The resource names a command's input addresses: tables (also inside batches and transactions), queues, streams. */
export function resourcesOf(input: unknown): string[] {
  if (typeof input !== 'object' || input === null) return [];
  const fields = input as Record<string, unknown>;
  const names = ['TableName', 'QueueUrl', 'StreamName', 'StreamARN', 'Name']
    .map((field) => fields[field])
    .filter((value): value is string => typeof value === 'string');
  // BatchGetItem / BatchWriteItem: tables are the keys of RequestItems.
  if (typeof fields.RequestItems === 'object' && fields.RequestItems !== null) {
    names.push(...Object.keys(fields.RequestItems));
  }
  if (Array.isArray(fields.TransactItems)) names.push(...transactionResources(fields.TransactItems));
  return names;
}

/** TransactWriteItems / TransactGetItems: one table per item, under Put/Update/Delete/ConditionCheck/Get. */
function transactionResources(items: readonly unknown[]): string[] {
  return items.flatMap((item) =>
    typeof item === 'object' && item !== null
      ? Object.values(item as Record<string, unknown>).flatMap((action) => resourcesOf(action))
      : [],
  );
}

/** The outage that covers this call now, if any. */
export function activeOutage(
  outages: readonly Outage[],
  input: unknown,
  now = Date.now(),
): Outage | undefined {
  if (outages.length === 0) return undefined;
  const resources = resourcesOf(input);
  return outages.find(
    (outage) =>
      now >= outage.from &&
      now < outage.to &&
      resources.some((resource) => resource.includes(outage.resource)),
  );
}

/** Adds the fault middleware to a client when WAL_FAULTS is set; returns the client. */
export function withFaults<Client>(client: Client, service: string, config = activeConfig): Client {
  // A ternary, not an early return: esbuild drops the untaken branch and what only it uses (an early return
  // leaves the code after it in the bundle).
  return typeof WAL_FAULT_INJECTION === 'boolean' && !WAL_FAULT_INJECTION
    ? client
    : addFaultMiddleware(client, service, config);
}

function addFaultMiddleware<Client>(
  client: Client,
  service: string,
  config: FaultConfig | undefined,
): Client {
  if (!config || (config.rate === 0 && config.outages.length === 0)) return client;
  (client as unknown as MiddlewareClient).middlewareStack.add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      // An outage fails every call to its resource before it is sent, whatever the rate.
      if (activeOutage(config.outages, (args as { input?: unknown }).input)) {
        throw new InjectedFaultError('ServiceUnavailable', operation);
      }
      if ((config.operations && !config.operations.includes(operation)) || Math.random() >= config.rate) {
        return next(args);
      }
      return injectFault(config, service, operation, () => next(args));
    },
    // Before the SDK's own retries: the code under test sees the fault.
    { step: 'initialize', name: 'walFaultInjection' },
  );
  return client;
}

/** One fault of a kind the config enables, picked at random, on a call that `send` would make. */
async function injectFault(
  config: FaultConfig,
  service: string,
  operation: string,
  send: () => Promise<unknown>,
): Promise<unknown> {
  const kind = config.kinds[Math.floor(Math.random() * config.kinds.length)];
  switch (kind) {
    case 'throttle':
      throw new InjectedFaultError(THROTTLE_NAMES[service] ?? 'ThrottlingException', operation);
    case 'timeout-after':
      // The call went through; only its answer is lost.
      await send();
      throw new InjectedFaultError('TimeoutError', operation);
    case 'duplicate':
      await send().catch(() => undefined);
      return send();
    case 'latency':
      await new Promise((resolve) => setTimeout(resolve, config.latencyMs));
      return send();
    default:
      throw new InjectedFaultError('InternalServerError', operation);
  }
}

/** Ends the runtime here, at the configured rate, as a crash between two steps would. */
export function crashPoint(point: CrashPoint, config = activeConfig): void {
  // If/else rather than an early return, for the same reason as in withFaults.
  if (typeof WAL_FAULT_INJECTION === 'boolean' && !WAL_FAULT_INJECTION) {
    return;
  } else if (
    config &&
    config.crashRate > 0 &&
    config.crashPoints.includes(point) &&
    Math.random() < config.crashRate
  ) {
    // In a Lambda (or a local worker thread) this ends the runtime: the invocation fails, the next one is cold.
    process.exit(137);
  }
}

/**
 * How long one AWS SDK call may take at worst: attempts x (connection + request timeout) plus the
 * backoff between attempts. The stack sets a budget per function through environment variables
 * (lib/timeout-budget.ts derives it from the function's timeout), and clients.ts builds every
 * client with it, so an SDK call can never outlive the Lambda that makes it.
 */

/** The variables the stack sets; without them {@link DEFAULT_SDK_BUDGET} applies (tests, scripts). */
export const SDK_BUDGET_ENV = {
  maxAttempts: 'WAL_SDK_MAX_ATTEMPTS',
  connectionTimeoutMs: 'WAL_SDK_CONNECTION_TIMEOUT_MS',
  requestTimeoutMs: 'WAL_SDK_REQUEST_TIMEOUT_MS',
} as const;

export interface SdkBudget {
  /** Attempts per call, the first one included (the SDK's `maxAttempts`). */
  readonly maxAttempts: number;
  /** Time to open the connection (`NodeHttpHandler` `connectionTimeout`). */
  readonly connectionTimeoutMs: number;
  /** Time for the request and its response (`requestTimeout`, with `throwOnRequestTimeout`). */
  readonly requestTimeoutMs: number;
}

/** What a client gets when no budget is set: the SDK's 3 attempts and the previous timeouts. */
export const DEFAULT_SDK_BUDGET: SdkBudget = {
  maxAttempts: 3,
  connectionTimeoutMs: 2_000,
  requestTimeoutMs: 5_000,
};

/**
 * The SDK's standard retry strategy waits `random() x min(base x 2^retry, 20 s)` before a retry; the
 * base is 1 s for throttling errors (50 ms for others) in @smithy/core's retries-2026-config. The
 * budget assumes every retry is throttled and the random factor is 1.
 */
const SDK_THROTTLING_BACKOFF_BASE_MS = 1_000;
const SDK_MAX_BACKOFF_MS = 20_000;

/** The longest the SDK may wait between the attempts of one call. */
export function worstCaseBackoffMs(maxAttempts: number): number {
  let total = 0;
  for (let retry = 0; retry < maxAttempts - 1; retry++) {
    total += Math.min(SDK_THROTTLING_BACKOFF_BASE_MS * 2 ** retry, SDK_MAX_BACKOFF_MS);
  }
  return total;
}

/** The longest one SDK call may take under `budget`, every attempt timing out. */
export function worstCaseCallMs(budget: SdkBudget): number {
  return (
    budget.maxAttempts * (budget.connectionTimeoutMs + budget.requestTimeoutMs) +
    worstCaseBackoffMs(budget.maxAttempts)
  );
}

/** The environment variables that carry `budget` to a function. */
export function sdkBudgetEnvironment(budget: SdkBudget): Record<string, string> {
  return {
    [SDK_BUDGET_ENV.maxAttempts]: String(budget.maxAttempts),
    [SDK_BUDGET_ENV.connectionTimeoutMs]: String(budget.connectionTimeoutMs),
    [SDK_BUDGET_ENV.requestTimeoutMs]: String(budget.requestTimeoutMs),
  };
}

/** A budget variable that is set but is not a positive integer. */
export class InvalidSdkBudgetError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Invalid ${variable} "${value}": a positive integer is expected (it is set by the CDK stack)`,
      options,
    );
    this.name = 'InvalidSdkBudgetError';
  }
}

/**
 * Reads the budget from the environment. All three variables or none: a partial budget would mix
 * the stack's numbers with defaults that do not nest.
 */
export function sdkBudgetFromEnvironment(source: NodeJS.ProcessEnv = process.env): SdkBudget {
  const names = Object.values(SDK_BUDGET_ENV);
  if (names.every((name) => source[name] === undefined)) return DEFAULT_SDK_BUDGET;
  const read = (name: string): number => {
    const value = source[name] ?? '';
    const number = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) {
      throw new InvalidSdkBudgetError(name, value);
    }
    return number;
  };
  return {
    maxAttempts: read(SDK_BUDGET_ENV.maxAttempts),
    connectionTimeoutMs: read(SDK_BUDGET_ENV.connectionTimeoutMs),
    requestTimeoutMs: read(SDK_BUDGET_ENV.requestTimeoutMs),
  };
}

import { Duration } from 'aws-cdk-lib';
import { CALLS_AFTER_PREPARE, maxResendBackoffMs, resendFits } from '#lambdas/ingest/batch-timing';
import { type SdkBudget, worstCaseBackoffMs, worstCaseCallMs } from '#lambdas/shared/sdk-budget';

/**
 * Timeouts nest: one SDK call (attempts x timeouts + backoff) < the function's timeout < the queue's
 * visibility timeout, and the ingest Lambda answers within API Gateway's limit. The numbers and
 * their sources are in docs/aws-limits.md; this file turns them into checks that fail the synth.
 */

/** HTTP API: the integration timeout is at most 30 s (API Gateway quotas for HTTP APIs). */
export const API_GATEWAY_INTEGRATION_TIMEOUT = Duration.seconds(30);
/**
 * Lambda's Init phase (cold start) may take up to 10 s and is not part of the function timeout, but
 * API Gateway waits for it too.
 */
export const LAMBDA_INIT_TIMEOUT = Duration.seconds(10);
/**
 * SDK calls on ingest's longest path: the namespace config from SSM, PutRecord, the conditional
 * PutItem, then a GetItem (the key was taken). The failed-prepare path is as long: SSM, PutRecord
 * (fails), GetItem, UpdateItem.
 */
export const INGEST_WORST_PATH_CALLS = 4;
/** What ingest's own code (parse, validate, hash) may take on top of its SDK calls. */
const INGEST_COMPUTE_MARGIN = Duration.seconds(1);
/**
 * A consumer's single SDK call may take at most this share of its timeout: a record needs a ledger
 * read, a target write and maybe a queue send within one invocation.
 */
const CONSUMER_CALLS_PER_TIMEOUT = 4;
/** Attempts are tried from this many down to 1 until the timeouts fit (the SDK's default is 3). */
const MAX_ATTEMPTS = 3;
/** Below this, a connection plus a request cannot be expected to finish even in-region. */
const MIN_ATTEMPT_MS = 500;
/** Upper bounds of the derived timeouts: longer ones only delay the next attempt. */
const MAX_CONNECTION_TIMEOUT_MS = 1_000;
const MAX_REQUEST_TIMEOUT_MS = 3_000;

/** The timeouts of a function and its SDK calls, or of the API in front of it, do not nest. */
export class TimeoutsDoNotNestError extends Error {
  constructor(
    readonly what: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Timeouts do not nest for ${what}: ${detail} (see docs/aws-limits.md)`, options);
    this.name = 'TimeoutsDoNotNestError';
  }
}

/**
 * The most generous SDK budget whose worst case fits `perCall`: as many attempts as fit (up to 3),
 * each with at least 500 ms, the connection getting a quarter of an attempt (at most 1 s) and the
 * request the rest (at most 3 s), in whole 100 ms.
 */
export function deriveSdkBudget(what: string, perCall: Duration): SdkBudget {
  const perCallMs = perCall.toMilliseconds({ integral: false });
  for (let maxAttempts = MAX_ATTEMPTS; maxAttempts >= 1; maxAttempts--) {
    const attemptMs = Math.floor((perCallMs - worstCaseBackoffMs(maxAttempts)) / maxAttempts / 100) * 100;
    if (attemptMs < MIN_ATTEMPT_MS) continue;
    const connectionTimeoutMs = Math.min(MAX_CONNECTION_TIMEOUT_MS, Math.floor(attemptMs / 4 / 100) * 100);
    const requestTimeoutMs = Math.min(MAX_REQUEST_TIMEOUT_MS, attemptMs - connectionTimeoutMs);
    return { maxAttempts, connectionTimeoutMs, requestTimeoutMs };
  }
  throw new TimeoutsDoNotNestError(
    what,
    `an SDK call may take ${perCallMs} ms, too little for one attempt of ${MIN_ATTEMPT_MS} ms`,
  );
}

/** The SDK budget of the ingest Lambda, checked against its timeout and API Gateway's. */
export function ingestSdkBudget(timeout: Duration): SdkBudget {
  const timeoutMs = timeout.toMilliseconds();
  const apiLimitMs = API_GATEWAY_INTEGRATION_TIMEOUT.toMilliseconds();
  const initMs = LAMBDA_INIT_TIMEOUT.toMilliseconds();
  if (timeoutMs + initMs >= apiLimitMs) {
    throw new TimeoutsDoNotNestError(
      'the ingest Lambda',
      `its timeout ${timeoutMs} ms plus a cold start (Init, up to ${initMs} ms) must stay under API ` +
        `Gateway's ${apiLimitMs} ms integration timeout, or a client gets a 503 while the commit may still land`,
    );
  }
  const pathMs = timeoutMs - INGEST_COMPUTE_MARGIN.toMilliseconds();
  const budget = deriveSdkBudget(
    'the ingest Lambda',
    Duration.millis(Math.max(0, pathMs) / INGEST_WORST_PATH_CALLS),
  );
  checkPath('the ingest Lambda', budget, INGEST_WORST_PATH_CALLS, pathMs);
  checkBatchPath(timeout, budget);
  return budget;
}

/**
 * The batch endpoint's path: the namespace config, PutRecords, then per mutation (all at once) the calls
 * after its prepare; so as deep as a single mutation's, plus the rounds that resend refused entries. A
 * round runs only when it and the calls after it fit in the time left (lambdas/ingest/batch-timing.ts), so
 * the resends cannot break the nesting; this checks that the depth without them is a single mutation's,
 * and that with the config cached and a quick first PutRecords, at least the first resend fits (else the
 * batch could never resend at this timeout).
 */
export function checkBatchPath(timeout: Duration, budget: SdkBudget): void {
  const callsWithoutResends = 2 + CALLS_AFTER_PREPARE;
  if (callsWithoutResends > INGEST_WORST_PATH_CALLS) {
    throw new TimeoutsDoNotNestError(
      'the batch endpoint',
      `its path makes ${callsWithoutResends} SDK calls before any resend, more than a single mutation's ` +
        `${INGEST_WORST_PATH_CALLS}`,
    );
  }
  if (!resendFits(timeout.toMilliseconds(), maxResendBackoffMs(0), worstCaseCallMs(budget))) {
    throw new TimeoutsDoNotNestError(
      'the batch endpoint',
      `an ingest timeout of ${timeout.toMilliseconds()} ms leaves no time for one PutRecords resend and the ` +
        `${CALLS_AFTER_PREPARE} calls after it (${worstCaseCallMs(budget)} ms each at worst): raise the timeout`,
    );
  }
}

/** The SDK budget of a consumer Lambda: one call takes at most a quarter of its timeout. */
export function consumerSdkBudget(timeout: Duration): SdkBudget {
  const shareMs = timeout.toMilliseconds() / CONSUMER_CALLS_PER_TIMEOUT;
  const budget = deriveSdkBudget('the consumer Lambdas', Duration.millis(shareMs));
  checkPath('the consumer Lambdas', budget, 1, shareMs);
  return budget;
}

/**
 * A webhook's POST is the target write of a consumer's per-record budget: its timeout must fit the share
 * one SDK call gets ({@link CONSUMER_CALLS_PER_TIMEOUT} per consumer timeout), next to the ledger read,
 * the namespace config and signing secret reads (cached) and a retry-queue send.
 */
export function checkWebhookTimeout(
  consumerTimeout: Duration,
  webhookTimeoutSeconds: number,
  what: string,
): void {
  const shareMs = consumerTimeout.toMilliseconds() / CONSUMER_CALLS_PER_TIMEOUT;
  if (webhookTimeoutSeconds * 1000 > shareMs) {
    throw new TimeoutsDoNotNestError(
      what,
      `its timeoutSeconds ${webhookTimeoutSeconds} s is more than the ${shareMs} ms a target call may take ` +
        `in a consumer whose timeout is ${consumerTimeout.toSeconds()} s (a quarter of it): lower ` +
        'timeoutSeconds or raise consumerTimeout',
    );
  }
}

/** Fails unless `calls` worst-case SDK calls fit in `availableMs`. */
function checkPath(what: string, budget: SdkBudget, calls: number, availableMs: number): void {
  const pathMs = calls * worstCaseCallMs(budget);
  if (pathMs > availableMs) {
    throw new TimeoutsDoNotNestError(
      what,
      `${calls} SDK call(s) of ${budget.maxAttempts} x (${budget.connectionTimeoutMs} + ` +
        `${budget.requestTimeoutMs}) ms + ${worstCaseBackoffMs(budget.maxAttempts)} ms backoff take up to ` +
        `${pathMs} ms, more than the ${availableMs} ms available`,
    );
  }
}

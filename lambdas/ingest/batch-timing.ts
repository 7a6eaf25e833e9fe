/**
 * The time rules of the batch endpoint, apart from its AWS calls so that lib/timeout-budget.ts can check them
 * at synth. A batch's longest path is a single mutation's (the namespace config, the prepare, then a commit or
 * a fence and a ledger read) plus the rounds that resend refused PutRecords entries; a round is only made when
 * it and the calls after it still fit in the time the Lambda has left.
 */

/** SDK calls after a mutation's prepare on its longest path: the commit (or the fence), then a ledger read. */
export const CALLS_AFTER_PREPARE = 2;

/** What the handler keeps for itself at the end of an invocation: building and sending the answer. */
export const ANSWER_RESERVE_MS = 1_000;

/** Resends of refused PutRecords entries after the first call (the SDK makes up to 3 attempts of a PutRecord). */
export const MAX_PUT_RECORDS_RESENDS = 3;

/** Backoff before the first resend; it doubles each round, up to {@link MAX_RESEND_BACKOFF_MS}. */
const RESEND_BACKOFF_BASE_MS = 100;
const MAX_RESEND_BACKOFF_MS = 1_000;

/**
 * The wait before resend `round` (0 for the first): exponential, with jitter between half and all of it so
 * that throttled batches of one shard do not come back together.
 */
export function resendBackoffMs(round: number, random: () => number): number {
  const ceiling = Math.min(RESEND_BACKOFF_BASE_MS * 2 ** round, MAX_RESEND_BACKOFF_MS);
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** The longest wait {@link resendBackoffMs} may give before resend `round`. */
export function maxResendBackoffMs(round: number): number {
  return Math.min(RESEND_BACKOFF_BASE_MS * 2 ** round, MAX_RESEND_BACKOFF_MS);
}

/**
 * Whether a resend round still fits before the Lambda times out: the wait, the resend (one SDK call at
 * worst `sdkCallMs`), the calls after the prepare, and the answer's reserve.
 */
export function resendFits(remainingMs: number, waitMs: number, sdkCallMs: number): boolean {
  return remainingMs - ANSWER_RESERVE_MS >= waitMs + (1 + CALLS_AFTER_PREPARE) * sdkCallMs;
}

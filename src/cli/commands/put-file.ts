import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAX_BATCH_BODY_BYTES, MAX_BATCH_MUTATIONS } from '#lambdas/ingest/ingest-batch';
import { chunkBySize } from '#lambdas/shared/chunks';
import { isPlainObject } from '#lambdas/shared/storable-json';
import { callWal, type WalHttpAnswer } from '#src/cli/http-client';
import { UsageError } from '#src/cli/usage-error';

/**
 * `wal put <namespace> --file mutations.jsonl`: one mutation (the single endpoint's body) per line,
 * sent through the batch endpoint, up to 100 per request. A line without "idempotencyKey" gets one
 * derived from the file's path, the line's number and its text, so a retry (or a rerun of the same
 * file) cannot apply it twice. UNKNOWN and 5xx answers are retried with the same key; FAIL is not
 * (the key is fenced for a while: rerun the file later).
 */

export interface PutFileOptions {
  readonly endpoint: string;
  readonly namespace: string;
  readonly file: string;
  /** Attempts per mutation (UNKNOWN, 5xx or no answer are retried). */
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
  /** Gets the progress line (stderr in the CLI). */
  readonly progress?: (line: string) => void;
  readonly call?: typeof callWal;
}

export interface LineProblem {
  readonly line: number;
  readonly reason: string;
}

export interface PutFileSummary {
  readonly total: number;
  readonly succeeded: number;
  /** Mutations the WAL refused or failed, or whose outcome stayed unknown after every attempt. */
  readonly failed: LineProblem[];
  /** Lines that are not a JSON object: reported, never sent. */
  readonly badLines: LineProblem[];
}

interface FileMutation {
  readonly line: number;
  readonly body: Record<string, unknown>;
}

interface BatchResult {
  readonly status?: number;
  readonly durable?: string;
  readonly type?: string;
  readonly detail?: string;
}

export async function putFile(options: PutFileOptions): Promise<PutFileSummary> {
  const { mutations, badLines } = readMutations(options.file);
  const progress = progressLine(mutations.length, options.progress);
  const failed: LineProblem[] = [];
  let succeeded = 0;
  for (const batch of batchesOf(mutations)) {
    const outcomes = await sendWithRetries(options, batch);
    outcomes.forEach((reason, position) => {
      if (reason === undefined) succeeded++;
      else failed.push({ line: (batch[position] as FileMutation).line, reason });
    });
    progress(batch.length);
  }
  return { total: mutations.length, succeeded, failed, badLines };
}

/** The file's mutations (blank lines skipped) and its bad lines, each with its 1-based line number. */
function readMutations(file: string): { mutations: FileMutation[]; badLines: LineProblem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read ${file}: ${(error as Error).message}`);
  }
  const path = resolve(file);
  const mutations: FileMutation[] = [];
  const badLines: LineProblem[] = [];
  text.split('\n').forEach((raw, index) => {
    const source = raw.trim();
    if (source === '') return;
    const line = index + 1;
    let body: unknown;
    try {
      body = JSON.parse(source);
    } catch (error) {
      badLines.push({ line, reason: `not valid JSON (${(error as Error).message})` });
      return;
    }
    if (!isPlainObject(body)) {
      badLines.push({ line, reason: 'not a JSON object (a mutation: { "payload": ... })' });
      return;
    }
    const key =
      typeof body.idempotencyKey === 'string' ? {} : { idempotencyKey: lineKey(path, line, source) };
    mutations.push({ line, body: { ...body, ...key } });
  });
  return { mutations, badLines };
}

/** The key of a keyless line: the same for the same file, line number and text, so retries are safe. */
function lineKey(path: string, line: number, text: string): string {
  return `wal-file-${createHash('sha256').update(`${path}\n${line}\n${text}`).digest('hex').slice(0, 40)}`;
}

/** Consecutive runs of up to MAX_BATCH_MUTATIONS mutations whose request stays under MAX_BATCH_BODY_BYTES. */
function batchesOf(mutations: readonly FileMutation[]): FileMutation[][] {
  // Each body and its comma; 64 bytes of room for the envelope `{"mutations":[]}`.
  return chunkBySize(mutations, (mutation) => Buffer.byteLength(JSON.stringify(mutation.body), 'utf8') + 1, {
    maxCount: MAX_BATCH_MUTATIONS,
    maxBytes: MAX_BATCH_BODY_BYTES - 64,
  });
}

/**
 * Sends a batch; resends the mutations whose answer was UNKNOWN, a 5xx other than FAIL, or no answer,
 * with the same keys. Returns, per mutation, undefined for SUCCESS or the reason it failed.
 */
async function sendWithRetries(
  options: PutFileOptions,
  batch: readonly FileMutation[],
): Promise<(string | undefined)[]> {
  const reasons: (string | undefined)[] = batch.map(() => 'not sent');
  let open = batch.map((_, position) => position);
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; open.length > 0 && attempt <= maxAttempts; attempt++) {
    if (attempt > 1) await sleep((options.retryDelayMs ?? 500) * 2 ** (attempt - 2));
    const answers = await sendBatch(
      options,
      open.map((position) => (batch[position] as FileMutation).body),
    );
    const retry: number[] = [];
    open.forEach((position, index) => {
      const answer = answers[index] as BatchResult;
      reasons[position] =
        answer.status === 200 && answer.durable === 'SUCCESS' ? undefined : describe(answer);
      if (isRetryable(answer)) retry.push(position);
    });
    open = retry;
  }
  return reasons;
}

/** One request; every mutation's result (the whole answer for each when the batch got none). */
async function sendBatch(options: PutFileOptions, bodies: readonly unknown[]): Promise<BatchResult[]> {
  const call = options.call ?? callWal;
  let answer: WalHttpAnswer;
  try {
    answer = await call(
      options.endpoint,
      'POST',
      `v1/namespaces/${encodeURIComponent(options.namespace)}/mutations:batch`,
      { mutations: bodies },
    );
  } catch (error) {
    return bodies.map(() => ({ detail: `no answer: ${(error as Error).message}` }));
  }
  const body = (isPlainObject(answer.body) ? answer.body : {}) as { results?: BatchResult[] } & BatchResult;
  if (answer.status === 200 && Array.isArray(body.results) && body.results.length === bodies.length) {
    return body.results;
  }
  return bodies.map(() => ({ ...body, status: answer.status }));
}

function isRetryable(answer: BatchResult): boolean {
  if (answer.status === 200 && answer.durable === 'SUCCESS') return false;
  if (answer.durable === 'FAIL') return false;
  return answer.status === undefined || answer.status >= 500 || answer.durable === 'UNKNOWN';
}

function describe(answer: BatchResult): string {
  const slug = answer.type?.split('/').pop();
  return [answer.status, answer.durable, slug, answer.detail].filter((part) => part !== undefined).join(' ');
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** A progress reporter: done/total, percent and rate, as one line rewritten in place. */
function progressLine(total: number, write: ((line: string) => void) | undefined): (count: number) => void {
  const started = Date.now();
  let done = 0;
  return (count) => {
    done += count;
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    write?.(
      `[${bar}] ${done}/${total} ${Math.round((done / Math.max(total, 1)) * 100)}% ${(done / seconds).toFixed(0)}/s`,
    );
  };
}

/** The summary the CLI prints: counts, then each failed mutation and bad line with its line number. */
export function formatSummary(file: string, summary: PutFileSummary): string {
  const lines = [
    `${file}: ${summary.succeeded} of ${summary.total} mutations succeeded, ${summary.failed.length} failed` +
      `${summary.badLines.length > 0 ? `, ${summary.badLines.length} bad lines not sent` : ''}.`,
    ...summary.failed.map(({ line, reason }) => `  line ${line}: failed: ${reason}`),
    ...summary.badLines.map(({ line, reason }) => `  line ${line}: not sent: ${reason}`),
  ];
  return lines.join('\n');
}

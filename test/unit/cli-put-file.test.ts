import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSummary, putFile } from '#src/cli/commands/put-file';
import type { WalHttpAnswer } from '#src/cli/http-client';

type Body = { mutations: Record<string, unknown>[] };

const dir = mkdtempSync(join(tmpdir(), 'wal-put-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** A fake batch endpoint: `answer` decides each mutation's result; every request is recorded. */
function fakeWal(answer: (mutation: Record<string, unknown>, attempt: number) => Record<string, unknown>) {
  const requests: Body[] = [];
  const attempts = new Map<string, number>();
  const call = async (
    _endpoint: string,
    _method: string,
    path: string,
    body?: unknown,
  ): Promise<WalHttpAnswer> => {
    expect(path).toBe('v1/namespaces/orders/mutations:batch');
    requests.push(body as Body);
    const results = (body as Body).mutations.map((mutation) => {
      const key = String(mutation.idempotencyKey);
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
      return answer(mutation, attempts.get(key) ?? 1);
    });
    return { status: 200, body: { results } };
  };
  return { call, requests };
}

const success = () => ({ status: 200, durable: 'SUCCESS', id: '01J' });

describe('wal put --file', () => {
  it('sends the lines in batches of up to 100 with a key for each keyless line, and shows progress', async () => {
    // GIVEN 250 keyless lines
    const path = file(
      'many.jsonl',
      Array.from({ length: 250 }, (_, i) => JSON.stringify({ payload: { id: `a${i}` } })),
    );
    const wal = fakeWal(success);
    const progress: string[] = [];
    // WHEN the file is put twice
    const summary = await putFile({
      endpoint: 'http://wal',
      namespace: 'orders',
      file: path,
      call: wal.call,
      progress: (line) => progress.push(line),
    });
    await putFile({ endpoint: 'http://wal', namespace: 'orders', file: path, call: wal.call });
    // THEN three requests each time (100, 100, 50), every mutation with a key, the same keys on the rerun
    expect(wal.requests.map((request) => request.mutations.length)).toEqual([100, 100, 50, 100, 100, 50]);
    const keys = wal.requests.flatMap((request) =>
      request.mutations.map((mutation) => mutation.idempotencyKey),
    );
    expect(new Set(keys.slice(0, 250)).size).toBe(250);
    expect(keys.slice(250)).toEqual(keys.slice(0, 250));
    expect(summary).toEqual({ total: 250, succeeded: 250, failed: [], badLines: [] });
    expect(progress.at(-1)).toMatch(/^\[#{30}\] 250\/250 100% \d+\/s$/);
  });

  it('retries UNKNOWN answers with the same key, not FAIL, and reports failures with their line numbers', async () => {
    // GIVEN a WAL that answers u UNKNOWN once, f FAIL and r 422
    const path = file('mixed.jsonl', [
      JSON.stringify({ payload: { id: 'u' }, idempotencyKey: 'ku' }),
      JSON.stringify({ payload: { id: 'f' }, idempotencyKey: 'kf' }),
      '',
      JSON.stringify({ payload: { id: 'r' }, idempotencyKey: 'kr' }),
    ]);
    const wal = fakeWal((mutation, attempt) => {
      if (mutation.idempotencyKey === 'ku')
        return attempt === 1 ? { status: 503, durable: 'UNKNOWN' } : success();
      if (mutation.idempotencyKey === 'kf') return { status: 503, durable: 'FAIL', detail: 'not logged' };
      return { status: 422, type: 'https://serverless-wal.dev/problems/idempotency-key-reused' };
    });
    // WHEN
    const summary = await putFile({
      endpoint: 'http://wal',
      namespace: 'orders',
      file: path,
      call: wal.call,
      retryDelayMs: 1,
    });
    // THEN only the UNKNOWN one was sent again, with its key; the others are failures on lines 2 and 4
    expect(
      wal.requests.map((request) => request.mutations.map((mutation) => mutation.idempotencyKey)),
    ).toEqual([['ku', 'kf', 'kr'], ['ku']]);
    expect(summary.succeeded).toBe(1);
    expect(summary.failed).toEqual([
      { line: 2, reason: '503 FAIL not logged' },
      { line: 4, reason: '422 idempotency-key-reused' },
    ]);
  });

  it('retries a batch that got no answer, and reports bad lines without sending them', async () => {
    // GIVEN a file with a bad line and an array line, and a WAL that cannot be reached once
    const path = file('bad.jsonl', [JSON.stringify({ payload: { id: 'a' } }), '{oops', '[1]']);
    const wal = fakeWal(success);
    let calls = 0;
    const call: typeof wal.call = async (...args) => {
      calls++;
      if (calls === 1) throw new Error('ECONNRESET');
      return wal.call(...args);
    };
    // WHEN
    const summary = await putFile({
      endpoint: 'http://wal',
      namespace: 'orders',
      file: path,
      call,
      retryDelayMs: 1,
    });
    // THEN the one good line succeeded on the retry, and both bad lines are reported by number
    expect(summary.succeeded).toBe(1);
    expect(wal.requests).toHaveLength(1);
    expect(summary.badLines.map((bad) => bad.line)).toEqual([2, 3]);
    expect(formatSummary('bad.jsonl', summary)).toContain('line 2: not sent: not valid JSON');
  });

  it('fails if the file cannot be read', async () => {
    // WHEN / THEN
    await expect(
      putFile({ endpoint: 'http://wal', namespace: 'orders', file: join(dir, 'missing.jsonl') }),
    ).rejects.toThrow(/Cannot read/);
  });
});

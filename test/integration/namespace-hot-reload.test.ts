import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { namespaceParameterName } from '#lambdas/shared/namespace-config';
import { runNsCommand } from '#src/cli/commands/ns';
import type { LocalWal } from '#src/local/runtime/local-wal';
import {
  drain,
  FIXTURE_CONFIG_DIR,
  postMutation,
  scanTable,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';
import { waitFor } from '#test/support/wait';

const NAMESPACE = 'hot-reload';
/** The functions' config max age here (stage `it` has 60 s; the local stage's 5 s would slow the test). */
const MAX_AGE_SECONDS = 1;
/** What the functions log when they keep the last good config (lambdas/shared/namespace-store.ts). */
const KEPT_MESSAGE = 'Keeping the last good namespace config';

/**
 * `wal ns` against the local runtime: a change to a namespace's parameter reaches the running functions
 * within the config max age, and an invalid value written past the CLI leaves the last good config in force.
 */
describe('namespace hot reload (wal ns, local runtime)', () => {
  let wal: LocalWal;
  let table: string;
  /** What the functions printed (their error logs). */
  const functionLogs: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'wal-hot-reload-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  // Error logs on: the test reads the functions' "kept the last good config" line.
  withTestWal(
    async (started) => {
      wal = started;
      table = await targetTableName(wal, 'it', NAMESPACE, 'main');
    },
    { CONFIG_MAX_AGE_SECONDS: String(MAX_AGE_SECONDS), POWERTOOLS_LOG_LEVEL: 'ERROR' },
    (chunk) => functionLogs.push(chunk),
  );

  async function ns(subcommand: string, args: string[], file?: string): Promise<string[]> {
    const lines: string[] = [];
    const options = { stage: 'it', ssmEndpoint: wal.emulators.endpoints.ssm, ...(file ? { file } : {}) };
    expect(await runNsCommand(subcommand, args, options, (line) => lines.push(line))).toBe(0);
    return lines;
  }

  /** POSTs (ids `probe-<n>`) until the answer has `status`; how long that took. */
  let probes = 0;
  async function untilStatus(status: number): Promise<number> {
    const start = Date.now();
    await waitFor(
      async () => {
        const answer = await postMutation(wal, NAMESPACE, { payload: { id: `probe-${probes++}` } });
        return answer.status === status ? true : undefined;
      },
      (MAX_AGE_SECONDS + 5) * 1000,
      { intervalMs: 100, what: `answer ${status} for ${NAMESPACE}` },
    );
    return Date.now() - start;
  }

  it('applies `wal ns set` and `wal ns enable` to new mutations within the config max age', async () => {
    // GIVEN the namespace takes mutations
    expect((await postMutation(wal, NAMESPACE, { payload: { id: 'before' } })).status).toBe(200);
    // WHEN its source file, with "enabled": false, is set (the stack's table name is not in it)
    const file = join(scratch, `${NAMESPACE}.json`);
    const source = JSON.parse(readFileSync(join(FIXTURE_CONFIG_DIR, 'it', `${NAMESPACE}.json`), 'utf8'));
    writeFileSync(file, JSON.stringify({ ...source, enabled: false }));
    const output = await ns('set', [NAMESPACE], file);
    // THEN the diff showed the change, new mutations are refused (403) within the max age (plus slack)
    expect(output).toEqual(expect.arrayContaining(['-   "enabled": true,', '+   "enabled": false,']));
    expect(await untilStatus(403)).toBeLessThan((MAX_AGE_SECONDS + 2) * 1000);
    expect((await postMutation(wal, NAMESPACE, { payload: { id: 'refused' } })).status).toBe(403);
    // WHEN it is enabled again
    await ns('enable', [NAMESPACE]);
    // THEN mutations are taken again, and delivered to the table the stack provisioned (kept by set)
    expect(await untilStatus(200)).toBeLessThan((MAX_AGE_SECONDS + 2) * 1000);
    expect((await postMutation(wal, NAMESPACE, { payload: { id: 'after' } })).status).toBe(200);
    await drain(wal);
    const ids = (await scanTable(wal, table)).map((item) => item.id);
    expect(ids).toEqual(expect.arrayContaining(['before', 'after']));
    expect(ids).not.toContain('refused');
    const listed = await ns('list', []);
    expect(listed.find((line) => line.startsWith(`${NAMESPACE} `))).toBe(
      `${NAMESPACE}  enabled  version 3  main (dynamodb ${table})`,
    );
  });

  it('keeps the last good config when an invalid value is written past the CLI, and logs it', async () => {
    // GIVEN the functions hold the namespace's config (enabled)
    expect((await postMutation(wal, NAMESPACE, { payload: { id: 'good-1' } })).status).toBe(200);
    await drain(wal);
    const from = functionLogs.length;
    // WHEN an invalid value (no target) is written with PutParameter, and the max age passes
    await wal.clients.ssm.send(
      new PutParameterCommand({
        Name: namespaceParameterName('it', NAMESPACE),
        Value: JSON.stringify({ name: NAMESPACE, enabled: false, targets: [] }),
        Type: 'String',
        Overwrite: true,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, MAX_AGE_SECONDS * 1000 + 500));
    const answer = await postMutation(wal, NAMESPACE, { payload: { id: 'good-2' } });
    await drain(wal);
    // THEN the mutation is taken and applied as before (not refused as the invalid value's "enabled": false
    // would have it), and the functions logged that they kept the last good config
    expect(answer.status).toBe(200);
    expect((await scanTable(wal, table)).map((item) => item.id)).toContain('good-2');
    const kept = await waitFor(
      async () =>
        functionLogs
          .slice(from)
          .join('')
          .split('\n')
          .find((line) => line.includes(KEPT_MESSAGE)),
      5_000,
      { what: 'the "kept the last good config" log line' },
    );
    expect(JSON.parse(kept)).toMatchObject({ level: 'ERROR', namespace: NAMESPACE });
  });
});

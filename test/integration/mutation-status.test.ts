import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { monotonicFactory } from 'ulid';
import { ingestMutation } from '#lambdas/ingest/ingest-mutation';
import type { StatusView, TargetView } from '#lambdas/ingest/target-states';
import { readMutationStatus, recordApplied, recordFailure } from '#lambdas/shared/delivery-status';
import type { RetryMessage } from '#lambdas/shared/queue-message';
import { formatMutation } from '#src/cli/commands/get';
import type { LocalWal } from '#src/local/runtime/local-wal';
import { loggedMutation } from '#test/support/fixtures';
import {
  deliveryDependenciesOf,
  drain,
  driveUntil,
  ingestDependenciesOf,
  ledgerTableName,
  postMutation,
  takeTableDown,
  targetTableName,
  withTestWal,
} from '#test/support/local-wal-harness';

/**
 * GET /v1/namespaces/{ns}/mutations/{id} through the local runtime, for namespace "tracked" (status.track "all";
 * targets "main" and "audit"; 2 attempts, 2 s apart): each state a target goes through.
 */
describe('status per target (emulators)', () => {
  let wal: LocalWal;
  let mainTable: string;

  withTestWal(async (started) => {
    wal = started;
    mainTable = await targetTableName(wal, 'it', 'tracked', 'main');
  });

  async function getMutation(id: unknown): Promise<{ status: StatusView } & Record<string, unknown>> {
    const response = await fetch(`${wal.apiUrl}/v1/namespaces/tracked/mutations/${String(id)}`);
    expect(response.status).toBe(200);
    return (await response.json()) as { status: StatusView } & Record<string, unknown>;
  }

  const targetsOf = async (id: unknown) => (await getMutation(id)).status.targets;

  /** Drives the event sources until target `target` of mutation `id` is in `state`. */
  function untilState(id: unknown, target: string, state: string): Promise<TargetView> {
    return driveUntil(
      wal,
      async () => {
        const view = (await targetsOf(id))[target];
        return view?.state === state ? view : undefined;
      },
      20_000,
    );
  }

  it('answers pending for each target before delivery, then applied (when, outcome)', async () => {
    // GIVEN a mutation logged but not yet consumed
    const posted = await postMutation(wal, 'tracked', { payload: { id: 'status-1' } });
    const before = await getMutation(posted.body.id);
    // WHEN the consumers deliver it
    await drain(wal);
    const after = await targetsOf(posted.body.id);
    // THEN it was committed and pending on both targets, and is now applied on both
    expect(before).toMatchObject({ state: 'COMMITTED', status: { tracking: 'all' } });
    expect(before.status.targets).toEqual({ main: { state: 'pending' }, audit: { state: 'pending' } });
    const applied = { state: 'applied', outcome: 'applied', since: expect.any(String) };
    expect(after).toEqual({ main: applied, audit: applied });
  });

  it('answers delayed until its delivery time', async () => {
    // GIVEN a mutation delayed by 10 minutes
    const posted = await postMutation(wal, 'tracked', {
      payload: { id: 'status-2' },
      lifecycle: { delaySeconds: 600 },
    });
    const before = await targetsOf(posted.body.id);
    // WHEN the stream consumer routes it to the delay queue
    await drain(wal);
    const targets = await targetsOf(posted.body.id);
    // THEN before routing the ledger's effective time already says delayed; after it, the recorded state does
    expect(before.main).toMatchObject({ state: 'delayed', until: expect.any(String) });
    for (const name of ['main', 'audit']) {
      expect(targets[name]).toMatchObject({ state: 'delayed', since: expect.any(String) });
      expect(Date.parse(targets[name]?.until ?? '') - Date.now()).toBeGreaterThan(590_000);
    }
  });

  it('answers retrying (attempts, last error, next attempt), then dead-lettered (reason), per target', async () => {
    // GIVEN the main target's table is down
    const bringBack = await takeTableDown(wal, mainTable);
    try {
      const posted = await postMutation(wal, 'tracked', { payload: { id: 'status-3' } });
      // WHEN its first attempt fails
      await drain(wal);
      const retrying = await getMutation(posted.body.id);
      // AND its second (last) attempt fails too
      const dead = await untilState(posted.body.id, 'main', 'dead-lettered');
      // THEN main was retrying after one attempt while audit applied it; then main is dead-lettered with its reason
      expect(retrying.status.targets.main).toMatchObject({
        state: 'retrying',
        attempts: 1,
        lastError: expect.stringMatching(/.+/),
        nextAttemptAt: expect.any(String),
      });
      expect(retrying.status.targets.audit).toMatchObject({ state: 'applied' });
      expect(dead).toMatchObject({ state: 'dead-lettered', attempts: 2, reason: 'failed 2 of 2 attempts' });
      // AND wal get prints one line per target
      const printed = formatMutation(retrying).join('\n');
      expect(printed).toMatch(/main +retrying {2}attempts 1 {2}next attempt /);
      expect(printed).toMatch(/audit +applied/);
    } finally {
      await bringBack();
    }
  });

  it('answers superseded for a retried put that a later put of its key replaced', async () => {
    // GIVEN a put whose first attempt on main failed
    const bringBack = await takeTableDown(wal, mainTable);
    const first = await postMutation(wal, 'tracked', { payload: { id: 'status-4', version: 1 } });
    await drain(wal);
    expect((await targetsOf(first.body.id)).main).toMatchObject({ state: 'retrying' });
    // WHEN the table is back and a later put of the key is applied before that retry runs
    await bringBack();
    await postMutation(wal, 'tracked', { payload: { id: 'status-4', version: 2 } });
    await drain(wal);
    const superseded = await untilState(first.body.id, 'main', 'superseded');
    // THEN the retry found it superseded on main
    expect(superseded).toMatchObject({ state: 'superseded', outcome: 'superseded' });
  });

  it('answers held back for a record whose commit landed after the stream consumer read it', async () => {
    // GIVEN a mutation whose ledger commit is held back until released
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const deps = ingestDependenciesOf(wal);
    const real = deps.ledger.documentClient;
    const slowLedger = {
      send: async (command: unknown) => {
        if (command instanceof PutCommand) await held;
        return real.send(command as PutCommand);
      },
    } as unknown as DynamoDBDocumentClient;
    const answer = ingestMutation(
      { ...deps, ledger: { documentClient: slowLedger, tableName: ledgerTableName(wal) } },
      'tracked',
      { payload: { id: 'status-5' } },
      'status-5-key',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    // WHEN the stream consumer sees its record before the commit, and then the commit lands
    await drain(wal);
    release();
    const { id } = await answer;
    const response = await fetch(
      `${wal.apiUrl}/v1/namespaces/tracked/mutations/${id}?idempotencyKey=status-5-key`,
    );
    const heldBack = ((await response.json()) as { status: StatusView }).status;
    // THEN each target is held back, waiting for the recheck of its commit
    expect(heldBack.heldBack).toMatchObject({ kind: 'commit', reason: expect.stringContaining('commit') });
    expect(heldBack.targets.main).toMatchObject({
      state: 'held-back',
      reason: expect.stringContaining('commit'),
    });
    // AND once the queue consumer rechecks, it is applied and the hold is gone
    const applied = await driveUntil(
      wal,
      async () => {
        const again = await fetch(
          `${wal.apiUrl}/v1/namespaces/tracked/mutations/${id}?idempotencyKey=status-5-key`,
        );
        const view = ((await again.json()) as { status: StatusView }).status;
        return view.targets.main?.state === 'applied' ? view : undefined;
      },
      20_000,
    );
    expect(applied.heldBack).toBeUndefined();
  });

  it('answers applied after a retry under the default track "failures", not retrying forever', async () => {
    // GIVEN namespace "orders" (status.track "failures", the default) whose main table is down
    const ordersTable = await targetTableName(wal, 'it', 'orders', 'main');
    const ordersTargets = async (id: unknown) => {
      const response = await fetch(`${wal.apiUrl}/v1/namespaces/orders/mutations/${String(id)}`);
      return ((await response.json()) as { status: StatusView }).status.targets;
    };
    const bringBack = await takeTableDown(wal, ordersTable);
    const posted = await postMutation(wal, 'orders', { payload: { id: 'status-6' } });
    await drain(wal);
    const retrying = (await ordersTargets(posted.body.id)).main;
    // WHEN the table is back and the retry applies it
    await bringBack();
    const applied = await driveUntil(
      wal,
      async () => {
        const view = (await ordersTargets(posted.body.id)).main;
        return view?.state === 'applied' ? view : undefined;
      },
      20_000,
    );
    // THEN the target was retrying, and is applied now
    expect(retrying).toMatchObject({ state: 'retrying', attempts: 1 });
    expect(applied).toMatchObject({ state: 'applied', outcome: 'applied' });
  });

  it('keeps each target monotonic: a late retrying never hides dead-lettered or applied', async () => {
    // GIVEN a mutation of "tracked" whose main delivery was dead-lettered after 2 attempts
    const deps = deliveryDependenciesOf(wal);
    const config = await deps.namespaces.get('tracked');
    const mutation = loggedMutation({ namespace: 'tracked', id: monotonicFactory()() });
    const failure = (attempt: number, reason?: string): RetryMessage => ({
      kind: 'retry',
      mutation,
      target: 'main',
      attempt,
      lastError: `attempt ${attempt} failed`,
      firstFailedAt: Date.now(),
      notBefore: Date.now(),
      ...(reason ? { reason } : {}),
    });
    await recordFailure(deps, config, failure(2, 'failed 2 of 2 attempts'));
    // WHEN the retrying of attempt 1 lands late
    await recordFailure(deps, config, failure(1));
    const afterLate = await readMutationStatus(deps, 'tracked', mutation.envelope.id);
    // AND a redrive fails once more (attempt 3), then a second redrive applies it, then a late failure lands
    await recordFailure(deps, config, failure(3));
    const afterRedrive = await readMutationStatus(deps, 'tracked', mutation.envelope.id);
    await recordApplied(deps, config, mutation, 'main', 'applied');
    await recordFailure(deps, config, failure(4));
    const afterApplied = await readMutationStatus(deps, 'tracked', mutation.envelope.id);
    // THEN dead-lettered stayed over the late retrying, the redrive moved it on, and applied stayed over the failure
    expect(afterLate?.targets.get('main')).toMatchObject({ state: 'dead-lettered', attempts: 2 });
    expect(afterRedrive?.targets.get('main')).toMatchObject({ state: 'retrying', attempts: 3 });
    expect(afterApplied?.targets.get('main')).toMatchObject({ state: 'applied', outcome: 'applied' });
  });
});

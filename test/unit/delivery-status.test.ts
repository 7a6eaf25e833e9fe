import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CONFIG_TARGETS_NOTE, statusView } from '#lambdas/ingest/target-states';
import {
  clearHold,
  DONE_RANK,
  type MutationStatus,
  readMutationStatus,
  recordApplied,
  recordDelayed,
  recordFailure,
  recordHold,
  statusKey,
} from '#lambdas/shared/delivery-status';
import type { LedgerEntry } from '#lambdas/shared/ledger';
import { ITEMS_DELIVERY_TARGET, type RetryMessage } from '#lambdas/shared/queue-message';
import { deliveryDependencies, loggedMutation, namespaceConfig } from '#test/support/fixtures';

const documentMock = mockClient(DynamoDBDocumentClient);
const NOW = 1_700_000_100_000;
const tracked = namespaceConfig({ status: { track: 'all' } });
const untracked = namespaceConfig();
const mutation = loggedMutation();
const ID = mutation.envelope.id;
// The ledger entry's TTL: log time plus the default 30 days of retention.
const TTL = Math.floor(mutation.envelope.loggedAt / 1000) + 30 * 86_400;

function failure(attempt: number, overrides: Partial<RetryMessage> = {}): RetryMessage {
  return {
    kind: 'retry',
    mutation,
    target: 'main',
    attempt,
    lastError: 'table is down',
    firstFailedAt: NOW - 1_000,
    notBefore: NOW + 4_000,
    ...overrides,
  };
}

const updates = () => documentMock.commandCalls(UpdateCommand).map((call) => call.args[0].input);

beforeEach(() => {
  documentMock.reset();
  documentMock.on(UpdateCommand).resolves({});
});

describe('delivery status writes', () => {
  it('keys the status item so that no ledger entry can collide with it', () => {
    // WHEN / THEN a ledger pk starts with a namespace name, which never starts with "#"
    expect(statusKey('orders', ID)).toBe(`#status#orders#${ID}`);
  });

  it('records nothing on the happy path of a namespace that tracks failures only', async () => {
    // WHEN a delayed and an applied delivery of an untracked namespace are recorded
    const deps = deliveryDependencies(untracked, NOW);
    await recordDelayed(deps, untracked, mutation, 'main', NOW + 60_000);
    await recordApplied(deps, untracked, mutation, 'main', 'applied');
    // THEN no write is made
    expect(updates()).toEqual([]);
  });

  it('records delayed and applied when the namespace tracks all, each over a lower rank only', async () => {
    // WHEN a tracked namespace's delivery is delayed, then applied as a duplicate
    const deps = deliveryDependencies(tracked, NOW);
    await recordDelayed(deps, tracked, mutation, 'main', NOW + 60_000);
    await recordApplied(deps, tracked, mutation, 'main', 'duplicate');
    // THEN one UpdateItem each on the target's attribute, with the ledger entry's TTL
    expect(updates()).toEqual([
      {
        TableName: 'ledger',
        Key: { pk: `#status#orders#${ID}` },
        UpdateExpression: 'SET #target = :status, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(#target) OR #target.#rank <= :rank',
        ExpressionAttributeNames: { '#target': 't:main', '#rank': 'rank', '#ttl': 'expiresAt' },
        ExpressionAttributeValues: {
          ':status': { state: 'delayed', at: NOW, rank: 0, until: NOW + 60_000 },
          ':rank': 0,
          ':ttl': TTL,
        },
      },
      expect.objectContaining({
        ConditionExpression: 'attribute_not_exists(#target) OR #target.#rank < :rank',
        ExpressionAttributeValues: {
          ':status': { state: 'applied', at: NOW, rank: DONE_RANK, outcome: 'duplicate' },
          ':rank': DONE_RANK,
          ':ttl': TTL,
        },
      }),
    ]);
  });

  it('ranks failures by attempt: retrying 2n, dead-lettered 2n+1, so a redrive moves on past its DLQ state', async () => {
    // WHEN attempt 2 is retried, attempt 2 is dead-lettered, and attempt 3 (after a redrive) is retried
    const deps = deliveryDependencies(untracked, NOW);
    await recordFailure(deps, untracked, failure(2));
    await recordFailure(deps, untracked, failure(2, { reason: 'failed 2 of 2 attempts' }));
    await recordFailure(deps, untracked, failure(3));
    // THEN the failures are recorded even without tracking, with ranks 4, 5 and 6
    expect(updates().map((input) => input.ExpressionAttributeValues?.[':status'])).toEqual([
      {
        state: 'retrying',
        at: NOW,
        rank: 4,
        attempts: 2,
        lastError: 'table is down',
        firstFailedAt: NOW - 1_000,
        nextAttemptAt: NOW + 4_000,
      },
      expect.objectContaining({ state: 'dead-lettered', rank: 5, reason: 'failed 2 of 2 attempts' }),
      expect.objectContaining({ state: 'retrying', rank: 6, attempts: 3 }),
    ]);
  });

  it("records a multi-item delivery's per-item state from itemsDone and itemErrors", async () => {
    // GIVEN a multi-item mutation whose item 0 is done and item 1 failed
    const items = loggedMutation({
      items: [
        { target: 'main', op: 'put', payload: { id: 'a' } },
        { target: 'hook', op: 'put', payload: { id: 'b' } },
      ],
    });
    const deps = deliveryDependencies(tracked, NOW);
    // WHEN its failure, then its success, are recorded
    await recordFailure(
      deps,
      tracked,
      failure(1, {
        mutation: items,
        target: ITEMS_DELIVERY_TARGET,
        itemsDone: [0],
        itemErrors: [{ index: 1, error: 'hook answered 500' }],
      }),
    );
    await recordApplied(deps, tracked, items, ITEMS_DELIVERY_TARGET, 'applied');
    // THEN each item's state is on the status of the one delivery
    const [failed, applied] = updates().map((input) => input.ExpressionAttributeValues?.[':status']);
    expect(failed.items).toEqual([
      { index: 0, target: 'main', done: true },
      { index: 1, target: 'hook', done: false, error: 'hook answered 500' },
    ]);
    expect(applied.items).toEqual([
      { index: 0, target: 'main', done: true },
      { index: 1, target: 'hook', done: true },
    ]);
  });

  it('takes a failed condition (a later state is there) and a failed write quietly: the delivery goes on', async () => {
    // GIVEN a write that loses to a later state, then a table that cannot be reached
    const deps = deliveryDependencies(tracked, NOW);
    const warn = jest.spyOn(deps.logger, 'warn');
    documentMock
      .on(UpdateCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'later state', $metadata: {} }))
      .rejectsOnce(new Error('ledger unavailable'));
    // WHEN both are recorded
    await recordFailure(deps, tracked, failure(1));
    await recordApplied(deps, tracked, mutation, 'main', 'applied');
    // THEN neither throws; only the unreachable table is logged
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(
      'Status write failed',
      expect.objectContaining({
        target: 'main',
        state: 'applied',
        error: expect.stringContaining('ledger unavailable'),
      }),
    );
    warn.mockRestore();
  });

  it('records a hold with the TTL of the namespace, and clears it only where it exists', async () => {
    // WHEN a record is held back, then routed after its recheck
    const deps = deliveryDependencies(untracked, NOW);
    await recordHold(deps, mutation, 'commit', 'its commit was not yet in the ledger');
    await clearHold(deps, mutation);
    // THEN the hold is set, then removed on the condition that it is there (no TTL-less item is created)
    expect(updates()).toEqual([
      expect.objectContaining({
        UpdateExpression: 'SET #hold = :hold, #ttl = :ttl',
        ExpressionAttributeValues: {
          ':hold': { kind: 'commit', reason: 'its commit was not yet in the ledger', at: NOW },
          ':ttl': TTL,
        },
      }),
      expect.objectContaining({
        UpdateExpression: 'REMOVE #hold',
        ConditionExpression: 'attribute_exists(#hold)',
        ExpressionAttributeNames: { '#hold': 'hold' },
      }),
    ]);
    expect(updates()[1]).not.toHaveProperty('ExpressionAttributeValues');
  });

  it('reads the status item back: one consistent GetItem, its target attributes and its hold', async () => {
    // GIVEN a status item with one target state and a hold
    documentMock.on(GetCommand).resolves({
      Item: {
        pk: `#status#orders#${ID}`,
        expiresAt: TTL,
        't:main': { state: 'retrying', at: NOW, rank: 2, attempts: 1 },
        hold: { kind: 'key-lane', reason: 'held behind', at: NOW },
      },
    });
    // WHEN
    const status = await readMutationStatus(deliveryDependencies(untracked, NOW), 'orders', ID);
    // THEN
    expect(status?.targets).toEqual(
      new Map([['main', { state: 'retrying', at: NOW, rank: 2, attempts: 1 }]]),
    );
    expect(status?.hold).toEqual({ kind: 'key-lane', reason: 'held behind', at: NOW });
    expect(documentMock.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: 'ledger',
      Key: { pk: `#status#orders#${ID}` },
      ConsistentRead: true,
    });
  });
});

describe('each target state in the GET answer', () => {
  const entry: LedgerEntry = {
    pk: 'orders#key-1',
    id: ID,
    state: 'COMMITTED',
    effectiveAt: NOW - 1_000,
    updatedAt: NOW - 1_000,
    expiresAt: TTL,
  };
  const twoTargets = (track: 'all' | 'failures') =>
    namespaceConfig({
      status: { track },
      targets: [
        { name: 'main', type: 'dynamodb', tableName: 'orders-table', key: { partitionKey: 'id' } },
        { name: 'audit', type: 'dynamodb', tableName: 'audit-table', key: { partitionKey: 'id' } },
      ],
    });
  const iso = (ms: number) => new Date(ms).toISOString();

  it('answers pending with tracking, not-tracked without, and delayed (from the ledger) either way', () => {
    // WHEN nothing is recorded, for a mutation due now and one due in a minute, and one sent to main only
    const tracking = statusView(twoTargets('all'), entry, undefined, NOW);
    const notTracking = statusView(twoTargets('failures'), entry, undefined, NOW);
    const delayed = statusView(
      twoTargets('failures'),
      { ...entry, effectiveAt: NOW + 60_000 },
      undefined,
      NOW,
    );
    const ownTargets = statusView(twoTargets('all'), entry, undefined, NOW, ['main']);
    // THEN the targets of the namespace's config come with a note that they are the config's; a mutation's own
    // targets (known with ?view=full) do not
    expect(tracking).toEqual({
      tracking: 'all',
      targets: { main: { state: 'pending' }, audit: { state: 'pending' } },
      note: CONFIG_TARGETS_NOTE,
    });
    expect(ownTargets).toEqual({ tracking: 'all', targets: { main: { state: 'pending' } } });
    expect(notTracking.targets.main).toEqual({
      state: 'not-tracked',
      note: expect.stringContaining('failures'),
    });
    expect(delayed.targets.audit).toEqual({ state: 'delayed', until: iso(NOW + 60_000) });
  });

  it('answers what is recorded per target, and pending for a recorded delay that has run out', () => {
    // GIVEN main dead-lettered, audit delayed until a second ago, and a removed target still retrying
    const status: MutationStatus = {
      targets: new Map([
        [
          'main',
          {
            state: 'dead-lettered',
            at: NOW - 5,
            rank: 5,
            attempts: 2,
            lastError: 'down',
            firstFailedAt: NOW - 10,
            reason: 'failed 2 of 2 attempts',
          },
        ],
        ['audit', { state: 'delayed', at: NOW - 50, rank: 0, until: NOW - 1_000 }],
        ['old', { state: 'retrying', at: NOW - 5, rank: 2, attempts: 1, nextAttemptAt: NOW + 5 }],
      ]),
    };
    // WHEN
    const view = statusView(twoTargets('all'), entry, status, NOW);
    // THEN
    expect(view.targets).toEqual({
      main: {
        state: 'dead-lettered',
        since: iso(NOW - 5),
        attempts: 2,
        lastError: 'down',
        firstFailedAt: iso(NOW - 10),
        reason: 'failed 2 of 2 attempts',
      },
      audit: { state: 'pending', since: iso(NOW - 50), until: iso(NOW - 1_000) },
      old: { state: 'retrying', since: iso(NOW - 5), attempts: 1, nextAttemptAt: iso(NOW + 5) },
    });
  });

  it('answers held back for targets with nothing later recorded; a key-lane hold per target only with tracking', () => {
    // GIVEN a commit hold, and a key-lane hold with main applied since
    const commitHold: MutationStatus = {
      targets: new Map(),
      hold: { kind: 'commit', reason: 'commit', at: NOW },
    };
    const laneHold: MutationStatus = {
      targets: new Map([['main', { state: 'applied', at: NOW, rank: DONE_RANK, outcome: 'applied' }]]),
      hold: { kind: 'key-lane', reason: 'behind X', at: NOW - 10 },
    };
    // WHEN
    const committing = statusView(twoTargets('failures'), entry, commitHold, NOW);
    const laneTracked = statusView(twoTargets('all'), entry, laneHold, NOW);
    const laneUntracked = statusView(twoTargets('failures'), entry, laneHold, NOW);
    // THEN
    expect(committing.targets.main).toEqual({ state: 'held-back', since: iso(NOW), reason: 'commit' });
    expect(laneTracked.heldBack).toEqual({ kind: 'key-lane', reason: 'behind X', since: iso(NOW - 10) });
    expect(laneTracked.targets.main).toMatchObject({ state: 'applied', outcome: 'applied' });
    expect(laneTracked.targets.audit).toEqual({
      state: 'held-back',
      since: iso(NOW - 10),
      reason: 'behind X',
    });
    expect(laneUntracked.targets.audit).toMatchObject({ state: 'not-tracked' });
  });

  it("lists a multi-item mutation's one delivery, and a mutation's own targets when the envelope names them", () => {
    // GIVEN a multi-item delivery that is recorded
    const items: MutationStatus = {
      targets: new Map([[ITEMS_DELIVERY_TARGET, { state: 'applied', at: NOW, rank: DONE_RANK }]]),
    };
    // WHEN
    const multi = statusView(twoTargets('all'), entry, items, NOW);
    const own = statusView(twoTargets('all'), entry, undefined, NOW, ['audit']);
    // THEN
    expect(Object.keys(multi.targets)).toEqual([ITEMS_DELIVERY_TARGET]);
    expect(Object.keys(own.targets)).toEqual(['audit']);
  });
});

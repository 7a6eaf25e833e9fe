import type { WalOutputs } from '#lib/wal-outputs';
import { InvalidOutageError, outageResourceName, outageWindows, parseOutage } from '#src/chaos/outages';
import {
  countSent,
  isMultiItem,
  isShared,
  MAIN_TARGET,
  markerOf,
  type PlannedMutation,
  planWorkload,
  SIDE_TARGET,
  SINGLE_TARGETS,
  touchesOf,
} from '#src/chaos/workload';

/** A deterministic random source. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('chaos workload', () => {
  // GIVEN a plan of 400 mutations from a seeded random source
  const plan = planWorkload({ mutations: 400, runId: 'r', random: seeded(7) });

  it('sends every op on a few shared keys, many mutations each', () => {
    // WHEN its sends are counted
    const sent = countSent(plan);
    // THEN every op is there, and the shared keys each get many mutations
    for (const op of ['put', 'update-set', 'update-add', 'delete', 'counter', 'keyless-counter']) {
      expect(sent[op]).toBeGreaterThan(0);
    }
    const sharedKeys = new Set(plan.filter((m) => isShared(m.op)).map((m) => m.key));
    expect(sharedKeys.size).toBeGreaterThanOrEqual(2);
    expect(sharedKeys.size).toBeLessThanOrEqual(10);
    expect(plan.filter((m) => isShared(m.op)).length / sharedKeys.size).toBeGreaterThan(10);
    expect(sent.delayed).toBeGreaterThan(0);
    expect(sent.impatient).toBeGreaterThan(0);
  });

  it('gives counters keys of their own, and keyless ones no idempotency key', () => {
    // WHEN the counters are picked out
    const counters = plan.filter((m) => !isShared(m.op));
    // THEN each has its own key; only keyless clients send without an idempotency key
    expect(new Set(counters.map((m) => m.key)).size).toBe(counters.length);
    for (const mutation of counters.filter((m) => m.op === 'keyless-counter')) {
      expect(mutation.client).toBe('keyless');
      expect(mutation.idempotencyKey).toBeUndefined();
    }
    for (const mutation of plan.filter((m) => m.client !== 'keyless')) {
      expect(mutation.idempotencyKey).toMatch(/^r-m\d+$/);
    }
  });

  it('gives every put, set and add a marker of its own that its body writes', () => {
    // THEN each writing mutation's marker is in what its body writes
    for (const mutation of plan.filter((m) => ['put', 'update-set', 'update-add'].includes(m.op))) {
      const marker = markerOf(mutation);
      const [touch] = touchesOf(mutation);
      const written = { ...touch?.payload, ...touch?.set, ...touch?.add };
      expect(marker).toBeDefined();
      expect(touch?.marker).toEqual(marker);
      expect(written[marker?.attribute ?? '']).toEqual(marker?.value ?? 1);
    }
  });

  it('counts keyless sends and abandoned attempts from the results', () => {
    // WHEN two mutations are counted with their clients' results
    const sent = countSent(plan.slice(0, 2), [
      { keylessSends: 2, abandoned: 0 },
      { keylessSends: 0, abandoned: 3 },
    ]);
    // THEN the results' keyless sends and abandoned attempts are summed
    expect(sent).toMatchObject({ 'keyless-sends': 2, 'abandoned-attempts': 3 });
  });
});

describe('chaos workload with multi-item mutations', () => {
  // GIVEN a plan of 400 mutations, 30% of them with items[], from a seeded random source
  const plan = planWorkload({ mutations: 400, runId: 'r', itemsShare: 0.3, random: seeded(11) });
  const multi = plan.filter(isMultiItem);
  const keyed = multi.filter((m) => m.op === 'items');
  const keyless = multi.filter((m) => m.op === 'keyless-items');

  it('sends keyed and keyless multi-item mutations, single and delayed, counted apart', () => {
    // WHEN its sends are counted
    const sent = countSent(plan);
    // THEN both kinds are there, next to every single op, and some multi-item mutations are delayed
    expect(sent.items).toBe(keyed.length);
    expect(sent['keyless-items']).toBe(keyless.length);
    expect(keyed.length).toBeGreaterThan(40);
    expect(keyless.length).toBeGreaterThan(5);
    for (const op of ['put', 'update-set', 'update-add', 'delete', 'counter', 'keyless-counter']) {
      expect(sent[op]).toBeGreaterThan(0);
    }
    expect(multi.some((m) => m.delayed && 'items' in m.body && m.body.lifecycle?.delaySeconds)).toBe(true);
  });

  it('changes a shared key of the main table and one of the side table, each item with a marker it writes', () => {
    // WHEN the keyed multi-item mutations are looked at
    const singleKeys = new Set(plan.filter((m) => isShared(m.op)).map((m) => m.key));
    for (const mutation of keyed) {
      const [main, side, ...rest] = touchesOf(mutation);
      // THEN the main item is on a key that single mutations change too, the side item on a side key
      expect(rest).toEqual([]);
      expect(main?.target).toBe(MAIN_TARGET);
      expect(singleKeys.has(main?.key ?? '')).toBe(true);
      expect(mutation.key).toBe(main?.key);
      expect(side?.target).toBe(SIDE_TARGET);
      expect(side?.key).toMatch(/^r-s\d+$/);
      expect(mutation.idempotencyKey).toBe(`r-m${mutation.index}`);
      for (const touch of [main, side]) {
        const written: Record<string, unknown> = { ...touch?.payload, ...touch?.set, ...touch?.add };
        expect(touch?.marker).toBeDefined();
        expect(written[touch?.marker?.attribute ?? '']).toEqual(touch?.marker?.value ?? 1);
      }
    }
    // AND every item op is there, on both tables
    const ops = keyed.flatMap((m) => touchesOf(m).map((t) => `${t.target}:${t.op}:${t.add ? 'add' : 'set'}`));
    expect(new Set(ops)).toEqual(
      new Set([
        'main:put:set',
        'main:update:set',
        'main:update:add',
        'side:put:set',
        'side:update:set',
        'side:update:add',
      ]),
    );
  });

  it('sends items in the request form: put with item, update with key, set and add; no payload, op or targets', () => {
    for (const mutation of keyed) {
      // WHEN a multi-item mutation's body is compared with its items
      const body = mutation.body as { items: unknown[] } & Record<string, unknown>;
      const expected = touchesOf(mutation).map((touch) =>
        touch.op === 'put'
          ? { target: touch.target, op: 'put', item: touch.payload }
          : {
              target: touch.target,
              op: 'update',
              key: touch.payload,
              ...(touch.set ? { set: touch.set } : {}),
              ...(touch.add ? { add: touch.add } : {}),
            },
      );
      // THEN the body holds them in the DESIGN.md form, and nothing of a single mutation
      expect(body.items).toEqual(expected);
      expect(body).not.toHaveProperty('payload');
      expect(body).not.toHaveProperty('op');
      expect(body).not.toHaveProperty('targets');
    }
  });

  it('gives keyless multi-item mutations a counter of their own in each table, and no idempotency key', () => {
    for (const mutation of keyless) {
      // WHEN a keyless one is looked at
      const touches = touchesOf(mutation);
      // THEN it adds 1 to count on its own key, in both tables
      expect(mutation.client).toBe('keyless');
      expect(mutation.idempotencyKey).toBeUndefined();
      expect(touches.map((t) => [t.target, t.key, t.op, t.add])).toEqual([
        [MAIN_TARGET, `r-i${mutation.index}`, 'update', { count: 1 }],
        [SIDE_TARGET, `r-i${mutation.index}`, 'update', { count: 1 }],
      ]);
    }
  });

  it('sends single mutations to the main table and the FIFO queue only, never to the side table', () => {
    // WHEN the single mutations' bodies are looked at
    const single = plan.filter((m) => !isMultiItem(m));
    // THEN each names its targets, without the side table
    for (const mutation of single) {
      expect((mutation.body as { targets?: readonly string[] }).targets).toEqual(SINGLE_TARGETS);
    }
    expect(SINGLE_TARGETS).not.toContain(SIDE_TARGET);
  });

  it('plans no multi-item mutation without an items share', () => {
    // WHEN a plan is made without itemsShare, and with 0
    const plans: PlannedMutation[][] = [
      planWorkload({ mutations: 200, runId: 'r', random: seeded(3) }),
      planWorkload({ mutations: 200, runId: 'r', itemsShare: 0, random: seeded(3) }),
    ];
    // THEN neither has one, and both are the same plan
    expect(plans[0]?.some(isMultiItem)).toBe(false);
    expect(plans[1]).toEqual(plans[0]);
  });
});

describe('chaos outages', () => {
  // GIVEN the stack's outputs and the table the namespace's config names
  const outputs: WalOutputs = {
    ApiUrl: 'http://127.0.0.1:3000/',
    LedgerTableName: 'ServerlessWal-chaos-StorageLedger5E7CB2E3',
    WaitingRoomTableName: 'ServerlessWal-chaos-WaitingRoomTable',
    StreamName: 'ServerlessWal-chaos-StorageStream1E4F10F3',
    DelayQueueUrl: 'http://127.0.0.1:9324/000000000000/stack-delay',
    RetryQueueUrl: 'http://127.0.0.1:9324/000000000000/stack-retry',
    RetryQueueArn: 'arn:aws:sqs:us-east-1:000000000000:stack-retry',
    DeadLetterQueueUrl: 'http://127.0.0.1:9324/000000000000/stack-dlq',
    StreamFailureQueueUrl: 'http://127.0.0.1:9324/000000000000/stack-stream-failures',
    AlarmTopicArn: 'arn:aws:sns:us-east-1:000000000000:alarms',
  };
  const targets = { outputs, targetTable: 'ServerlessWal-chaos-NamespacescountersTargetmainD3C9104B' };

  it('reads <resource>:<seconds>', () => {
    // WHEN/THEN an outage spec is parsed into its resource and seconds
    expect(parseOutage('target:30')).toEqual({ resource: 'target', seconds: 30 });
    expect(parseOutage('ledger:5')).toEqual({ resource: 'ledger', seconds: 5 });
  });

  it('fails if the resource or the seconds are not valid', () => {
    // WHEN/THEN each malformed spec is refused
    for (const spec of ['target', 'disk:30', 'target:0', 'target:-1', 'target:1.5', 'target:601']) {
      expect(() => parseOutage(spec)).toThrow(InvalidOutageError);
    }
  });

  it('names each resource as the fault injector matches it: by its output, the target by the namespace config', () => {
    // WHEN each outage resource is named / THEN it is the output's value, or the config's table
    expect(outageResourceName(targets, 'target')).toBe(targets.targetTable);
    expect(outageResourceName(targets, 'ledger')).toBe(outputs.LedgerTableName);
    expect(outageResourceName(targets, 'queue')).toBe(outputs.RetryQueueUrl);
    expect(outageResourceName(targets, 'delay')).toBe(outputs.DelayQueueUrl);
    expect(outageResourceName(targets, 'stream')).toBe(outputs.StreamName);
  });

  it('starts each outage at the given time for its seconds', () => {
    // WHEN a 30 s outage of the target starts at 5 s / THEN its window is 5 s to 35 s
    expect(outageWindows(targets, [{ resource: 'target', seconds: 30 }], 5_000)).toEqual([
      { resource: targets.targetTable, from: 5_000, to: 35_000 },
    ]);
  });
});

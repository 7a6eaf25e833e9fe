import {
  FIFO_GROUP_ID,
  targetOrderingKey,
  toMessageEnvelope,
} from '#lambdas/shared/targets/message-envelope';
import { loggedMutation } from '#test/support/fixtures';

describe('toMessageEnvelope', () => {
  it('carries what a receiver needs to apply the payload once and in order', () => {
    // GIVEN a delayed update logged under config version 3
    const mutation = loggedMutation(
      {
        id: '01JABCDEF',
        op: 'update',
        payload: { id: 'a' },
        update: { set: { colour: 'red' } },
        loggedAt: Date.parse('2026-01-01T00:00:00Z'),
        deliverAt: Date.parse('2026-01-01T00:05:00Z'),
        configVersion: 3,
      },
      '42',
    );
    // WHEN it is wrapped for target "jobs"
    const message = toMessageEnvelope(mutation, 'jobs');
    // THEN the id, order, times, version and the client's data are all there
    expect(message).toMatchObject({
      walEnvelope: 1,
      id: '01JABCDEF',
      target: 'jobs',
      configVersion: 3,
      sequence: '42',
      op: 'update',
      effectiveAt: '2026-01-01T00:05:00.000Z',
      loggedAt: '2026-01-01T00:00:00.000Z',
      payload: { id: 'a' },
      update: { set: { colour: 'red' } },
    });
  });

  it('orders envelopes of one key as the WAL does: effective time, then sequence', () => {
    // GIVEN an immediate mutation, a later one, and one delayed past both
    const at = Date.parse('2026-01-01T00:00:00Z');
    const first = toMessageEnvelope(loggedMutation({ loggedAt: at }, '9'), 't');
    const second = toMessageEnvelope(loggedMutation({ loggedAt: at }, '10'), 't');
    const delayed = toMessageEnvelope(loggedMutation({ loggedAt: at, deliverAt: at + 1 }, '1'), 't');
    // WHEN their orders are compared as strings THEN they sort in the WAL's order
    expect([delayed.order, second.order, first.order].sort()).toEqual([
      first.order,
      second.order,
      delayed.order,
    ]);
  });
});

describe('targetOrderingKey', () => {
  it('keeps a key that the target accepts', () => {
    // WHEN a short printable key is mapped THEN it is unchanged
    expect(targetOrderingKey('orders#42', FIFO_GROUP_ID.maxLength, FIFO_GROUP_ID.allowed)).toBe('orders#42');
  });

  it.each([
    // GIVEN keys a FIFO group id cannot hold
    ['too long', 'k'.repeat(129)],
    ['with a space', 'order 42'],
    ['with a control character', 'a\u0001b'],
    ['not ASCII', 'café'],
  ])('hashes a key that is %s, the same way every time', (_name, key) => {
    // WHEN it is mapped twice
    const once = targetOrderingKey(key, FIFO_GROUP_ID.maxLength, FIFO_GROUP_ID.allowed);
    const again = targetOrderingKey(key, FIFO_GROUP_ID.maxLength, FIFO_GROUP_ID.allowed);
    // THEN it is a sha256 id within the limit, deterministic, and distinct from another key's
    expect(once).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(once.length).toBeLessThanOrEqual(FIFO_GROUP_ID.maxLength);
    expect(again).toBe(once);
    expect(targetOrderingKey(`${key}x`, FIFO_GROUP_ID.maxLength, FIFO_GROUP_ID.allowed)).not.toBe(once);
  });
});

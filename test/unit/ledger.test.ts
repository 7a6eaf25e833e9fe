import { hashRequest } from '#lambdas/ingest/ingest-mutation';
import { dynamoDbItemSize } from '#lambdas/shared/dynamodb-item-size';
import { ENVELOPE_VERSION, type Envelope } from '#lambdas/shared/envelope';
import { commitRecord, commitStateOf, type LedgerEntry } from '#lambdas/shared/ledger';
import { IDEMPOTENCY_KEY_MAX_LENGTH, mutationRequestSchema } from '#lambdas/shared/mutation-request';
import { NAMESPACE_NAME_MAX_LENGTH, NAMESPACE_NAME_PATTERN } from '#lambdas/shared/namespace-config';

// GIVEN a key committed by attempt id-1 at sequence 200
const committed: LedgerEntry = {
  pk: 'orders#k',
  id: 'id-1',
  state: 'COMMITTED',
  sequence: '200',
  updatedAt: 0,
  expiresAt: 0,
};

describe('commitStateOf', () => {
  it('routes only the record the commit names', () => {
    // WHEN/THEN the committed attempt's record is looked up
    expect(commitStateOf(committed, 'id-1', '200')).toBe('committed');
  });

  it('skips a second record of the same attempt (PutRecord retried after a lost answer)', () => {
    // WHEN/THEN the same attempt's other record is looked up
    expect(commitStateOf(committed, 'id-1', '100')).toBe('duplicate');
  });

  it('skips the record of another attempt of the key', () => {
    // WHEN/THEN another attempt's record is looked up
    expect(commitStateOf(committed, 'id-2', '300')).toBe('duplicate');
  });

  it('skips a fenced attempt, and leaves any other attempt of a fenced key uncommitted', () => {
    // GIVEN a key whose attempt id-1 was fenced
    const fenced: LedgerEntry = {
      ...committed,
      state: 'ABORTED',
      id: undefined,
      abortedIds: new Set(['id-1']),
    };
    // WHEN/THEN the fenced attempt and another one are looked up
    expect(commitStateOf(fenced, 'id-1', '200')).toBe('fenced');
    expect(commitStateOf(fenced, 'id-2', '300')).toBe('uncommitted');
  });

  it('parks a record whose key has no entry yet', () => {
    // WHEN/THEN the key has no ledger entry
    expect(commitStateOf(undefined, 'id-1', '200')).toBe('uncommitted');
  });
});

/** A 1 KB payload: the size the issue prices a mutation at. */
const ONE_KB_PAYLOAD = { id: 'a1', blob: 'x'.repeat(1_000) };
// Times with 13 (ms) and 10 (s) significant digits: no trailing zero makes them look smaller.
const LOGGED_AT = 1_799_999_999_999;

function envelopeOf(namespace: string, idempotencyKey: string, payload: unknown): Envelope {
  return {
    v: ENVELOPE_VERSION,
    id: '01JZZZZZZZZZZZZZZZZZZZZZZZ',
    namespace,
    idempotencyKey,
    partitionKey: 'p'.repeat(512),
    op: 'put',
    payload,
    targets: ['main'],
    loggedAt: LOGGED_AT,
    deliverAt: LOGGED_AT + 987_654_321,
    configVersion: 7,
  };
}

const requestHash = hashRequest(mutationRequestSchema.parse({ payload: ONE_KB_PAYLOAD }));

describe('commitRecord (one write unit per commit)', () => {
  it('keeps the worst-case commit record within 1 KB (one write unit), whatever the payload', () => {
    // GIVEN the longest namespace name, the longest idempotency key, and Kinesis's longest sequence number
    // (pattern 0|([1-9]\d{0,128})) and shard id (128 characters), with a 1 KB payload and with a 100 KB one
    const namespace = 'n'.repeat(NAMESPACE_NAME_MAX_LENGTH);
    expect(NAMESPACE_NAME_PATTERN.test(namespace)).toBe(true);
    const key = '~'.repeat(IDEMPOTENCY_KEY_MAX_LENGTH);
    const prepared = { sequence: '9'.repeat(129), shardId: 's'.repeat(128) };
    // WHEN their commit records are built and sized as DynamoDB sizes items
    const record = commitRecord(envelopeOf(namespace, key, ONE_KB_PAYLOAD), prepared, requestHash, 3_650);
    const large = commitRecord(
      envelopeOf(namespace, key, { ...ONE_KB_PAYLOAD, blob: 'x'.repeat(100_000) }),
      prepared,
      requestHash,
      3_650,
    );
    // THEN the record is at most 1024 bytes, and holds no payload (its size does not grow with it)
    const size = dynamoDbItemSize(record);
    expect(size).toBeLessThanOrEqual(1_024);
    expect(size).toBe(739);
    expect(dynamoDbItemSize(large)).toBe(size);
  });

  it('holds only what the protocol and the answers need, nothing that repeats the pk', () => {
    // GIVEN a typical mutation: a short namespace, a UUID key, a real Kinesis sequence number and shard id
    const envelope = envelopeOf('orders', '8d3c1c52-3a6f-4f0e-9a4e-2b1f6c7d8e9f', ONE_KB_PAYLOAD);
    const prepared = {
      sequence: '49654569391428474513736392046238787826305146281254012930',
      shardId: 'shardId-000000000003',
    };
    // WHEN its commit record is built
    const record = commitRecord(envelope, prepared, requestHash, 30);
    // THEN it has these attributes only, and takes well under one write unit
    expect(Object.keys(record).sort()).toEqual(
      [
        'pk',
        'id',
        'state',
        'sequence',
        'shardId',
        'requestHash',
        'effectiveAt',
        'updatedAt',
        'expiresAt',
      ].sort(),
    );
    expect(record).toMatchObject({
      pk: 'orders#8d3c1c52-3a6f-4f0e-9a4e-2b1f6c7d8e9f',
      effectiveAt: LOGGED_AT + 987_654_321,
      updatedAt: LOGGED_AT,
    });
    expect(dynamoDbItemSize(record)).toBe(282);
  });
});

describe('dynamoDbItemSize', () => {
  it('sizes names and values as DynamoDB documents it', () => {
    // GIVEN one attribute of each type
    const item = {
      s: 'héllo',
      n: 1_234_500,
      z: 0.001,
      b: true,
      nul: null,
      bin: new Uint8Array(4),
      ss: new Set(['ab', 'c']),
      l: ['a', 1],
      m: { k: 'v' },
    };
    // WHEN / THEN strings are UTF-8 bytes, numbers 1 byte per two significant digits + 1, lists and maps
    // 3 bytes + 1 per element
    expect(dynamoDbItemSize(item)).toBe(
      1 +
        6 +
        (1 + 4) +
        (1 + 2) +
        (1 + 1) +
        (3 + 1) +
        (3 + 4) +
        (2 + 3) +
        (1 + 3 + 1 + 1 + 1 + 2) +
        (1 + 3 + 1 + 1 + 1),
    );
  });
});

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type Envelope, effectiveTime } from './envelope';
import { LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE } from './ledger-schema';

/**
 * The ledger: one item per (namespace, idempotency key). Its conditional put is the commit point
 * of the prepare/commit protocol and the idempotency check in one write.
 *
 * An entry is lean: what the protocol and the answers need, no payload and no envelope (the stream holds
 * those), no attribute that repeats `pk` — so a commit is one write unit (1 KB) whatever the payload's size
 * (test/unit/ledger.test.ts measures the worst case).
 */
export type LedgerState = 'COMMITTED' | 'ABORTED';

export interface LedgerEntry {
  /** `namespace#idempotencyKey` ({@link ledgerKey}); namespace names have no `#`, so it splits back. */
  readonly pk: string;
  /** The committed mutation's id (absent while ABORTED). */
  readonly id?: string;
  /** ABORTED: the ids of the fenced attempts, none of which may ever commit. */
  readonly abortedIds?: Set<string>;
  /**
   * ABORTED by a FAIL answer (epoch ms): no attempt may commit before this time, by when every attempt
   * the client started before the FAIL has ended — so a FAIL stays true for attempts still running.
   */
  readonly fencedUntil?: number;
  readonly state: LedgerState;
  /** Stream sequence number of the committed prepare. */
  readonly sequence?: string;
  /** Stream shard of the committed prepare: with `sequence`, where GET `?view=full` reads the envelope. */
  readonly shardId?: string;
  /** Hash of the request, to tell a retry from a different request reusing the key. */
  readonly requestHash?: string;
  /** COMMITTED: epoch ms the mutation takes effect (delivery time if delayed, else log time). */
  readonly effectiveAt?: number;
  /** Epoch milliseconds; a COMMITTED entry's is its mutation's log time (nothing updates it after). */
  readonly updatedAt: number;
  /** Epoch seconds: DynamoDB TTL. */
  readonly expiresAt: number;
}

/** An entry written by a commit: the attempt's id and its place in the stream. */
export type CommitRecord = LedgerEntry & {
  readonly id: string;
  readonly state: 'COMMITTED';
  readonly sequence: string;
  readonly requestHash: string;
  readonly effectiveAt: number;
};

export function ledgerKey(namespace: string, idempotencyKey: string): string {
  return `${namespace}#${idempotencyKey}`;
}

/** Where a prepared record landed on the stream (PutRecord's answer). */
export interface PreparedRecord {
  readonly sequence: string;
  readonly shardId: string | undefined;
}

/** The commit record of a prepared envelope: its ids and times, never its payload. */
export function commitRecord(
  envelope: Envelope,
  prepared: PreparedRecord,
  requestHash: string,
  retentionDays: number,
): CommitRecord {
  return {
    pk: ledgerKey(envelope.namespace, envelope.idempotencyKey),
    id: envelope.id,
    state: 'COMMITTED',
    sequence: prepared.sequence,
    ...(prepared.shardId ? { shardId: prepared.shardId } : {}),
    requestHash,
    effectiveAt: effectiveTime(envelope),
    updatedAt: envelope.loggedAt,
    expiresAt: expiresAt(envelope.loggedAt, retentionDays),
  };
}

export interface Ledger {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** Strongly consistent read of one entry. */
export async function getLedgerEntry(
  ledger: Ledger,
  namespace: string,
  idempotencyKey: string,
): Promise<LedgerEntry | undefined> {
  return getEntryByPk(ledger, ledgerKey(namespace, idempotencyKey));
}

async function getEntryByPk(ledger: Ledger, pk: string): Promise<LedgerEntry | undefined> {
  const answer = await ledger.documentClient.send(
    new GetCommand({
      TableName: ledger.tableName,
      Key: { [LEDGER_PARTITION_KEY]: pk },
      ConsistentRead: true,
    }),
  );
  return answer.Item as LedgerEntry | undefined;
}

// BatchGetItem takes at most 100 keys per call.
const BATCH_GET_LIMIT = 100;
const BATCH_GET_MAX_ROUNDS = 8;

class LedgerReadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LedgerReadError';
  }
}

/** Strongly consistent read of many entries, keyed by `pk`. Retries unprocessed keys. */
export async function getLedgerEntries(
  ledger: Ledger,
  pks: readonly string[],
): Promise<Map<string, LedgerEntry>> {
  const found = new Map<string, LedgerEntry>();
  const unique = [...new Set(pks)];
  for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
    let keys: Record<string, unknown>[] = unique
      .slice(start, start + BATCH_GET_LIMIT)
      .map((pk) => ({ [LEDGER_PARTITION_KEY]: pk }));
    for (let round = 0; keys.length > 0; round++) {
      if (round === BATCH_GET_MAX_ROUNDS) {
        throw new LedgerReadError(
          `${keys.length} ledger keys stayed unprocessed after ${round} BatchGetItem rounds`,
        );
      }
      if (round > 0) await sleep(50 * 2 ** round);
      const answer = await ledger.documentClient.send(
        new BatchGetCommand({ RequestItems: { [ledger.tableName]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of answer.Responses?.[ledger.tableName] ?? []) {
        const entry = item as LedgerEntry;
        found.set(entry.pk, entry);
      }
      keys = answer.UnprocessedKeys?.[ledger.tableName]?.Keys ?? [];
    }
  }
  return found;
}

export type CommitResult = { committed: true } | { committed: false; existing: LedgerEntry | undefined };

/**
 * The commit: succeeds if the key is free, or if its attempts so far were fenced ABORTED and this
 * attempt is not one of them (a fenced record can never be routed, so another may take the key), once
 * the last FAIL answer's fence has run out.
 */
export async function commitLedgerEntry(
  ledger: Ledger,
  entry: CommitRecord,
  now: number,
): Promise<CommitResult> {
  try {
    await ledger.documentClient.send(
      new PutCommand({
        TableName: ledger.tableName,
        Item: entry,
        ConditionExpression:
          'attribute_not_exists(#pk) OR (#state = :aborted AND NOT contains(#aborted, :id) ' +
          'AND (attribute_not_exists(#fencedUntil) OR #fencedUntil < :now))',
        ExpressionAttributeNames: {
          '#pk': LEDGER_PARTITION_KEY,
          '#state': 'state',
          '#aborted': 'abortedIds',
          '#fencedUntil': 'fencedUntil',
        },
        ExpressionAttributeValues: { ':aborted': 'ABORTED', ':id': entry.id, ':now': now },
      }),
    );
    return { committed: true };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return { committed: false, existing: await getEntryByPk(ledger, entry.pk) };
  }
}

/**
 * The fence: marks an attempt whose prepare never committed as ABORTED, so a late commit of it
 * fails. Returns false if the key was committed in the meantime.
 */
export function fenceLedgerEntry(
  ledger: Ledger,
  envelope: Envelope,
  now: number,
  retentionDays: number,
): Promise<boolean> {
  return writeFence(ledger, envelope, now, retentionDays, undefined);
}

/**
 * The fence of a FAIL answer: the key becomes ABORTED, and no attempt may commit it before
 * `fencedUntil`, however long the attempts already under way still run. Returns false if the key was
 * committed meanwhile, or holds a fence that lasts longer (which covers this one).
 */
export function fenceEarlierAttempts(
  ledger: Ledger,
  envelope: Envelope,
  fencedUntil: number,
  now: number,
  retentionDays: number,
): Promise<boolean> {
  return writeFence(ledger, envelope, now, retentionDays, fencedUntil);
}

async function writeFence(
  ledger: Ledger,
  envelope: Envelope,
  now: number,
  retentionDays: number,
  fencedUntil: number | undefined,
): Promise<boolean> {
  const fenceEarlier = fencedUntil === undefined ? '' : ', #fencedUntil = :fencedUntil';
  // A fence never gets shorter: a later FAIL from a host whose clock is behind must not lift an earlier one.
  const longer =
    fencedUntil === undefined
      ? ''
      : ' AND (attribute_not_exists(#fencedUntil) OR #fencedUntil < :fencedUntil)';
  try {
    await ledger.documentClient.send(
      new UpdateCommand({
        TableName: ledger.tableName,
        Key: { [LEDGER_PARTITION_KEY]: ledgerKey(envelope.namespace, envelope.idempotencyKey) },
        UpdateExpression: `SET #state = :aborted, #updatedAt = :now, #expiresAt = :expiresAt${fenceEarlier} ADD #aborted :ids`,
        ConditionExpression: `attribute_not_exists(#pk) OR (#state = :aborted${longer})`,
        ExpressionAttributeNames: {
          '#pk': LEDGER_PARTITION_KEY,
          '#state': 'state',
          '#updatedAt': 'updatedAt',
          '#expiresAt': LEDGER_TTL_ATTRIBUTE,
          '#aborted': 'abortedIds',
          ...(fencedUntil === undefined ? {} : { '#fencedUntil': 'fencedUntil' }),
        },
        ExpressionAttributeValues: {
          ':aborted': 'ABORTED',
          ':now': now,
          ':expiresAt': expiresAt(now, retentionDays),
          ':ids': new Set([envelope.id]),
          ...(fencedUntil === undefined ? {} : { ':fencedUntil': fencedUntil }),
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** Whether this attempt was fenced: its record must never be routed. */
function isFenced(entry: LedgerEntry | undefined, id: string): boolean {
  return entry?.state === 'ABORTED' && (entry.abortedIds?.has(id) ?? false);
}

export type CommitState = 'committed' | 'duplicate' | 'fenced' | 'uncommitted';

/**
 * What the ledger says about one prepared record: attempt `id` at stream `sequence`. Only the record
 * the commit names is routed; another record of the same attempt (PutRecord retried by the SDK
 * after a lost answer puts the envelope on the stream twice) is a duplicate.
 */
export function commitStateOf(entry: LedgerEntry | undefined, id: string, sequence: string): CommitState {
  if (entry?.state === 'COMMITTED')
    return entry.id === id && entry.sequence === sequence ? 'committed' : 'duplicate';
  if (isFenced(entry, id)) return 'fenced';
  return 'uncommitted';
}

export function expiresAt(now: number, retentionDays: number): number {
  return Math.floor(now / 1000) + retentionDays * 86_400;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

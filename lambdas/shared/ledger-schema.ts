/**
 * The ledger table's schema. CDK (lib/wal-storage.ts) creates the table from these names and the
 * Lambdas read and write it with the same constants, so the two cannot drift apart.
 */

/** The only key attribute of the ledger table (String): one item per (namespace, idempotency key). */
export const LEDGER_PARTITION_KEY = 'pk';
/**
 * The global secondary index that finds a ledger entry by its mutation id. Keyed by the id alone
 * (KEYS_ONLY): keyed by namespace, every commit of a busy namespace would write one index partition.
 */
export const LEDGER_ID_INDEX = 'byId';
/** Partition key (String) of {@link LEDGER_ID_INDEX}: the mutation's ULID. */
export const LEDGER_ID_INDEX_PARTITION_KEY = 'id';
/** Epoch seconds after which DynamoDB's TTL may delete a ledger entry. */
export const LEDGER_TTL_ATTRIBUTE = 'expiresAt';

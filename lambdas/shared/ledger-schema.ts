/**
 * The ledger table's schema. CDK (lib/wal-storage.ts) creates the table from these names and the
 * Lambdas read and write it with the same constants, so the two cannot drift apart.
 */

/** The only key attribute of the ledger table (String): one item per (namespace, idempotency key). */
export const LEDGER_PARTITION_KEY = 'pk';
// No secondary index: an index would cost every commit a second write. GET .../mutations/{id} reads
// `namespace#id` (a keyless request's key is its id) or `namespace#key` when the client passes its key.
/** Epoch seconds after which DynamoDB's TTL may delete a ledger entry. */
export const LEDGER_TTL_ATTRIBUTE = 'expiresAt';

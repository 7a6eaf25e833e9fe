/**
 * The names of the attributes the WAL keeps on DynamoDB target items (item-history.ts says what each
 * holds). Names only, no logic: readers outside the implementation (the chaos oracle, the stack's TTL)
 * share the names without sharing the code that writes them.
 */

/** Every WAL attribute starts with this; payloads may not use it. */
export const RESERVED_ATTRIBUTE_PREFIX = '_wal';
export const ORDER_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Order`;
export const MUTATION_ID_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Id`;
export const BASE_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Base`;
export const STAMPS_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Stamps`;
export const ADDS_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Adds`;
export const FOLDED_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Folded`;
/** On a tombstone: the item counts as absent. */
export const DELETED_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Deleted`;
/** A tombstone's TTL attribute (epoch seconds). */
export const EXPIRES_AT_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}ExpiresAt`;
/** Changes with every write: the optimistic lock of read-modify-write. */
export const REVISION_ATTRIBUTE = `${RESERVED_ATTRIBUTE_PREFIX}Rev`;

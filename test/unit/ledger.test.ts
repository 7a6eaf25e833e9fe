import { commitStateOf, type LedgerEntry } from '#lambdas/shared/ledger';

// GIVEN a key committed by attempt id-1 at sequence 200
const committed: LedgerEntry = {
  pk: 'orders#k',
  namespace: 'orders',
  idempotencyKey: 'k',
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

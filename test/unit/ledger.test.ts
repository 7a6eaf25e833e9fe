import { commitStateOf, type LedgerEntry } from '#lambdas/shared/ledger';

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
    expect(commitStateOf(committed, 'id-1', '200')).toBe('committed');
  });

  it('skips a second record of the same attempt (PutRecord retried after a lost answer)', () => {
    expect(commitStateOf(committed, 'id-1', '100')).toBe('duplicate');
  });

  it('skips the record of another attempt of the key', () => {
    expect(commitStateOf(committed, 'id-2', '300')).toBe('duplicate');
  });

  it('skips a fenced attempt, and leaves any other attempt of a fenced key uncommitted', () => {
    const fenced: LedgerEntry = {
      ...committed,
      state: 'ABORTED',
      id: undefined,
      abortedIds: new Set(['id-1']),
    };
    expect(commitStateOf(fenced, 'id-1', '200')).toBe('fenced');
    expect(commitStateOf(fenced, 'id-2', '300')).toBe('uncommitted');
  });

  it('parks a record whose key has no entry yet', () => {
    expect(commitStateOf(undefined, 'id-1', '200')).toBe('uncommitted');
  });
});

import { deadLetterOf } from '#src/chaos/dead-letters';

const base64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

describe('chaos: dead letters read loosely', () => {
  it('reads a retry message: the envelope id, the target and the reason with the attempts', () => {
    // GIVEN a dead-lettered retry message of one target
    const body = JSON.stringify({
      kind: 'retry',
      target: 'main',
      attempt: 20,
      lastError: 'throttled',
      mutation: { envelope: { id: 'm1' } },
    });
    // WHEN/THEN it is read
    expect(deadLetterOf(body)).toEqual({ id: 'm1', target: 'main', reason: 'throttled after 20 attempt(s)' });
  });

  it('reads the mutation id inside the record of a stream-record and of a poison message', () => {
    // GIVEN a whole stream record, and a record that could not be read as a mutation, each with its bytes
    const record = { kind: 'stream-record', data: base64({ id: 'm2' }), reason: 'failed every retry' };
    const poison = {
      kind: 'poison',
      data: base64({ id: 'm3', items: [] }),
      reason: 'Not a WAL envelope: ...',
    };
    // WHEN/THEN both name their mutation, without a target (the whole mutation is held back)
    expect(deadLetterOf(JSON.stringify(record))).toEqual({ id: 'm2', reason: 'failed every retry' });
    expect(deadLetterOf(JSON.stringify(poison))).toEqual({ id: 'm3', reason: 'Not a WAL envelope: ...' });
  });

  it('names no mutation for a message that holds none', () => {
    // WHEN/THEN text that is not JSON, poison bytes that are not JSON, and an empty body are read
    expect(deadLetterOf('not json')).toBeUndefined();
    expect(deadLetterOf(JSON.stringify({ kind: 'poison', data: 'bm90IGpzb24=' }))).toBeUndefined();
    expect(deadLetterOf(undefined)).toBeUndefined();
  });
});

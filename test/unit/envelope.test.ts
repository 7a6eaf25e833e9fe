import { effectiveTime, InvalidEnvelopeError, parseEnvelope, walOrder } from '#lambdas/shared/envelope';
import { envelope, loggedMutation } from '#test/support/fixtures';

describe('walOrder', () => {
  it('orders by effective time before sequence', () => {
    // GIVEN a mutation logged later with a lower sequence than an earlier one
    const earlier = loggedMutation({ loggedAt: 1_000 }, '900');
    const later = loggedMutation({ loggedAt: 2_000 }, '100');
    // WHEN both are placed in the WAL order
    // THEN the later log time wins
    expect(walOrder(later) > walOrder(earlier)).toBe(true);
  });

  it('orders equal times by numeric sequence, not by string', () => {
    // GIVEN two mutations logged at the same time, sequences 99 and 100
    const low = loggedMutation({ loggedAt: 1_000 }, '99');
    const high = loggedMutation({ loggedAt: 1_000 }, '100');
    // WHEN/THEN 100 comes after 99
    expect(walOrder(high) > walOrder(low)).toBe(true);
  });

  it('uses the delivery time of a delayed mutation', () => {
    // GIVEN a mutation logged first but delivered after a later immediate one
    const delayed = loggedMutation({ loggedAt: 1_000, deliverAt: 10_000 }, '1');
    const immediate = loggedMutation({ loggedAt: 5_000 }, '2');
    // WHEN/THEN the delayed one takes effect at its delivery time, after the immediate one
    expect(effectiveTime(delayed.envelope)).toBe(10_000);
    expect(walOrder(delayed) > walOrder(immediate)).toBe(true);
  });

  it('is equal for a redelivery of the same mutation', () => {
    // WHEN/THEN the same mutation is placed twice
    expect(walOrder(loggedMutation())).toBe(walOrder(loggedMutation()));
  });
});

describe('parseEnvelope', () => {
  it('round-trips an envelope', () => {
    // GIVEN an envelope with the optional fields
    const original = envelope({ deliverAt: 5, targets: ['main'] });
    // WHEN/THEN it is serialized and parsed back
    expect(parseEnvelope(JSON.stringify(original))).toEqual(original);
  });

  it('round-trips a multi-item envelope, which has items and no payload', () => {
    // GIVEN an envelope with items instead of a payload (JSON drops the undefined payload)
    const original = envelope({
      payload: undefined,
      items: [{ target: 'main', op: 'update', payload: { id: 'a' }, update: { add: { n: 1 } } }],
    });
    const json = JSON.stringify(original);
    expect(json).not.toContain('"payload":{"id":"a1"');
    // WHEN it is parsed back
    const parsed = parseEnvelope(json);
    // THEN it has its items, and no payload
    expect(parsed.items).toEqual(original.items);
    expect(parsed).not.toHaveProperty('payload');
  });

  it('fails if the data is not JSON', () => {
    // WHEN/THEN the data is not JSON
    expect(() => parseEnvelope('{nope')).toThrow(InvalidEnvelopeError);
    expect(() => parseEnvelope('{nope')).toThrow('Not a WAL envelope: the data is not JSON');
  });

  it('fails if a field is missing, naming it', () => {
    // GIVEN an envelope without its id
    const { id: _id, ...withoutId } = envelope();
    // WHEN/THEN it is parsed: the error names the field
    expect(() => parseEnvelope(JSON.stringify(withoutId))).toThrow(/id:/);
  });

  it('fails if the version is unknown', () => {
    // WHEN/THEN an envelope of version 2 is parsed
    expect(() => parseEnvelope(JSON.stringify({ ...envelope(), v: 2 }))).toThrow(InvalidEnvelopeError);
  });
});

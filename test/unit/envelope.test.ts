import { effectiveTime, InvalidEnvelopeError, parseEnvelope, walOrder } from '#lambdas/shared/envelope';
import { envelope, loggedMutation } from '#test/support/fixtures';

describe('walOrder', () => {
  it('orders by effective time before sequence', () => {
    // GIVEN a mutation logged later with a lower sequence than an earlier one
    const earlier = loggedMutation({ loggedAt: 1_000 }, '900');
    const later = loggedMutation({ loggedAt: 2_000 }, '100');
    // THEN the later log time wins
    expect(walOrder(later) > walOrder(earlier)).toBe(true);
  });

  it('orders equal times by numeric sequence, not by string', () => {
    const low = loggedMutation({ loggedAt: 1_000 }, '99');
    const high = loggedMutation({ loggedAt: 1_000 }, '100');
    expect(walOrder(high) > walOrder(low)).toBe(true);
  });

  it('uses the delivery time of a delayed mutation', () => {
    // GIVEN a mutation logged first but delivered after a later immediate one
    const delayed = loggedMutation({ loggedAt: 1_000, deliverAt: 10_000 }, '1');
    const immediate = loggedMutation({ loggedAt: 5_000 }, '2');
    expect(effectiveTime(delayed.envelope)).toBe(10_000);
    expect(walOrder(delayed) > walOrder(immediate)).toBe(true);
  });

  it('is equal for a redelivery of the same mutation', () => {
    expect(walOrder(loggedMutation())).toBe(walOrder(loggedMutation()));
  });
});

describe('parseEnvelope', () => {
  it('round-trips an envelope', () => {
    const original = envelope({ deliverAt: 5, targets: ['main'] });
    expect(parseEnvelope(JSON.stringify(original))).toEqual(original);
  });

  it('fails if the data is not JSON', () => {
    expect(() => parseEnvelope('{nope')).toThrow(InvalidEnvelopeError);
    expect(() => parseEnvelope('{nope')).toThrow('Not a WAL envelope: the data is not JSON');
  });

  it('fails if a field is missing, naming it', () => {
    const { id: _id, ...withoutId } = envelope();
    expect(() => parseEnvelope(JSON.stringify(withoutId))).toThrow(/id:/);
  });

  it('fails if the version is unknown', () => {
    expect(() => parseEnvelope(JSON.stringify({ ...envelope(), v: 2 }))).toThrow(InvalidEnvelopeError);
  });
});

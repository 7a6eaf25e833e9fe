import { ClientTokens } from '#src/local/dynamo-transactions/idempotency';

describe('ClientTokens', () => {
  it('recognises a token applied within 10 minutes, and forgets it after', () => {
    // GIVEN a token applied at t = 0
    let now = 0;
    const tokens = new ClientTokens(() => now);
    tokens.remember('t', 'request');
    // WHEN the same request comes at 9 minutes, then at 11
    now = 9 * 60_000;
    const within = tokens.alreadyApplied('t', 'request');
    now = 20 * 60_000;
    const after = tokens.alreadyApplied('t', 'request');
    // THEN the first is a repeat, the second a new request
    expect(within).toBe(true);
    expect(after).toBe(false);
  });

  it('fails if a token comes back with another request', () => {
    // GIVEN a token applied with one request
    const tokens = new ClientTokens();
    tokens.remember('t', 'request');
    // WHEN it comes with another
    const check = (): boolean => tokens.alreadyApplied('t', 'another');
    // THEN it is IdempotentParameterMismatchException, in the wire shape the SDK reads
    expect(check).toThrow(
      expect.objectContaining({
        status: 400,
        body: expect.objectContaining({
          __type: 'com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException',
        }),
      }),
    );
  });

  it('treats a request without token as new', () => {
    // GIVEN nothing remembered for an absent token
    const tokens = new ClientTokens();
    tokens.remember(undefined, 'request');
    // WHEN a request without token comes
    // THEN it is new
    expect(tokens.alreadyApplied(undefined, 'request')).toBe(false);
  });
});

import { acceptMutation, parseMutationRequest } from '#lambdas/ingest/validate-mutation';
import { namespaceConfig, problemOf } from '#test/support/fixtures';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const context = {
  now: NOW,
  random: () => 0.5,
};

describe('parseMutationRequest', () => {
  it('takes the idempotency key from the header when the body has none', () => {
    // GIVEN a valid put and a header key
    const body = { op: 'put', payload: { id: 'a' } };
    // WHEN
    const parsed = parseMutationRequest(body, 'key-1');
    // THEN
    expect(parsed.clientKey).toBe('key-1');
    expect(parsed.request.payload).toEqual({ id: 'a' });
  });

  it('fails if the header and the body name different idempotency keys', () => {
    // GIVEN a body key that differs from the header's
    const body = { payload: { id: 'a' }, idempotencyKey: 'key-2' };
    // WHEN
    const problem = problemOf(() => parseMutationRequest(body, 'key-1'));
    // THEN
    expect(problem).toMatchObject({ status: 400, slug: 'conflicting-idempotency-key' });
  });

  it('fails if the body breaks the schema, with a JSON pointer per issue', () => {
    // GIVEN an unknown op
    // WHEN
    const problem = problemOf(() => parseMutationRequest({ op: 'upsert', payload: {} }, undefined));
    // THEN
    expect(problem).toMatchObject({ status: 400, slug: 'invalid-mutation' });
    expect(problem.extensions.errors).toEqual([{ pointer: '/op', detail: expect.any(String) }]);
  });

  it('fails if a payload string holds U+FFFF, which SQS refuses, naming its pointer', () => {
    // GIVEN a payload whose nested string ends in the noncharacter U+FFFF (as JSON.parse makes "\uffff")
    const body = JSON.parse('{"payload":{"id":"a","notes":["ok","bad\\uffff"]}}');
    // WHEN
    const problem = problemOf(() => parseMutationRequest(body, undefined));
    // THEN a 400 whose only issue points at that string
    expect(problem).toMatchObject({ status: 400, slug: 'invalid-mutation' });
    expect(problem.extensions.errors).toEqual([
      { pointer: '/payload/notes/1', detail: expect.stringContaining('U+FFFF') },
    ]);
  });
});

describe('acceptMutation', () => {
  it('selects the namespace targets and the delivery time of a delayed mutation', () => {
    // GIVEN a mutation delayed 60 s with 10 s of jitter (random 0.5: 5 s)
    const parsed = parseMutationRequest(
      { payload: { id: 'a' }, lifecycle: { delaySeconds: 60, jitterSeconds: 10 } },
      undefined,
    );
    // WHEN
    const accepted = acceptMutation(namespaceConfig(), parsed, context);
    // THEN
    expect(accepted.targets.map((target) => target.name)).toEqual(['main']);
    expect(accepted.deliverAt).toBe(NOW + 65_000);
  });

  it('fails if the namespace is disabled', () => {
    // GIVEN a disabled namespace
    const parsed = parseMutationRequest({ payload: { id: 'a' } }, undefined);
    // WHEN
    const problem = problemOf(() => acceptMutation(namespaceConfig({ enabled: false }), parsed, context));
    // THEN
    expect(problem).toMatchObject({ status: 403, slug: 'namespace-disabled' });
  });

  it('fails if the namespace requires an idempotency key and none was sent', () => {
    // GIVEN a namespace that requires keys, and a request without one
    const parsed = parseMutationRequest({ payload: { id: 'a' } }, undefined);
    // WHEN
    const problem = problemOf(() =>
      acceptMutation(namespaceConfig({ requireIdempotencyKey: true }), parsed, context),
    );
    // THEN
    expect(problem).toMatchObject({ status: 400, slug: 'idempotency-key-required' });
  });
});

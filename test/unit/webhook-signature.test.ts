import {
  DEFAULT_TOLERANCE_SECONDS,
  InvalidWebhookSecretError,
  signingKeys,
  signWebhook,
  verifyWebhook,
  WEBHOOK_HEADERS,
  WebhookVerificationError,
  webhookHeaders,
} from '#lambdas/shared/targets/webhook-signature';

// The Standard Webhooks test vector (the spec's reference libraries test against it).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const VECTOR_NOW = VECTOR.timestamp * 1000;

function vectorHeaders(signature = VECTOR.signature, timestamp = String(VECTOR.timestamp)) {
  return {
    [WEBHOOK_HEADERS.id]: VECTOR.id,
    [WEBHOOK_HEADERS.timestamp]: timestamp,
    [WEBHOOK_HEADERS.signature]: signature,
  };
}

describe('signWebhook', () => {
  it('reproduces the Standard Webhooks test vector', () => {
    // GIVEN the vector's whsec_ secret, id, timestamp and body
    // WHEN
    const signature = signWebhook(VECTOR.secret, VECTOR);
    // THEN
    expect(signature).toBe(VECTOR.signature);
  });

  it('signs with the UTF-8 bytes of a secret without the whsec_ prefix', () => {
    // GIVEN a raw string secret
    // WHEN
    const keys = signingKeys('plain secret');
    // THEN
    expect(keys).toEqual([Buffer.from('plain secret', 'utf8')]);
  });

  it('signs with every key of a rotation list, space-separated', () => {
    // GIVEN the vector's secret after a new one
    const secret = `whsec_bmV3LXNlY3JldC1mb3Itcm90YXRpb24= ${VECTOR.secret}`;
    // WHEN
    const signatures = signWebhook(secret, VECTOR).split(' ');
    // THEN the old secret's signature is the second
    expect(signatures).toHaveLength(2);
    expect(signatures[1]).toBe(VECTOR.signature);
  });

  it('puts id, timestamp and signature in the three webhook-* headers', () => {
    // GIVEN the vector; WHEN
    const headers = webhookHeaders(VECTOR.secret, VECTOR);
    // THEN
    expect(headers).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    });
  });

  it.each([
    // GIVEN an empty secret, or a whsec_ secret that is not base64
    ['', /it is empty/],
    ['whsec_not*base64', /not base64/],
  ])('fails if the secret is %p', (secret, message) => {
    // WHEN/THEN
    expect(() => signWebhook(secret, VECTOR)).toThrow(InvalidWebhookSecretError);
    expect(() => signWebhook(secret, VECTOR)).toThrow(message);
  });
});

describe('verifyWebhook', () => {
  it('accepts the test vector and returns the webhook id', () => {
    // GIVEN the vector's headers, checked at its own time
    // WHEN
    const id = verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, { now: VECTOR_NOW });
    // THEN
    expect(id).toBe(VECTOR.id);
  });

  it('accepts fetch Headers and a Buffer body', () => {
    // GIVEN the vector as a fetch request would carry it
    const headers = new Headers(vectorHeaders());
    // WHEN
    const id = verifyWebhook(VECTOR.secret, headers, Buffer.from(VECTOR.body), { now: VECTOR_NOW });
    // THEN
    expect(id).toBe(VECTOR.id);
  });

  it('accepts a header listing another signature first (rotation)', () => {
    // GIVEN an unknown signature, then the right one
    const headers = vectorHeaders(`v1,AAAA ${VECTOR.signature}`);
    // WHEN
    const id = verifyWebhook(VECTOR.secret, headers, VECTOR.body, { now: VECTOR_NOW });
    // THEN
    expect(id).toBe(VECTOR.id);
  });

  it.each([
    // GIVEN a request that must not verify
    [
      'a wrong secret',
      'whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==',
      vectorHeaders(),
      VECTOR.body,
      /no v1 signature/,
    ],
    ['a changed body', VECTOR.secret, vectorHeaders(), '{"test": 2432232315}', /no v1 signature/],
    [
      'another scheme',
      VECTOR.secret,
      vectorHeaders(VECTOR.signature.replace('v1,', 'v1a,')),
      VECTOR.body,
      /no v1/,
    ],
    ['a missing header', VECTOR.secret, { 'webhook-id': VECTOR.id }, VECTOR.body, /header is missing/],
    ['a timestamp that is not a number', VECTOR.secret, vectorHeaders(undefined, '1e9'), VECTOR.body, /unix/],
  ])('fails if the request has %s', (_case, secret, headers, body, message) => {
    // WHEN/THEN
    expect(() => verifyWebhook(secret, headers, body, { now: VECTOR_NOW })).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(secret, headers, body, { now: VECTOR_NOW })).toThrow(message);
  });

  it.each([
    // GIVEN a receiver clock a second beyond the default tolerance (300 s), after or before the timestamp
    [(DEFAULT_TOLERANCE_SECONDS + 1) * 1000],
    [-(DEFAULT_TOLERANCE_SECONDS + 1) * 1000],
  ])('fails if the timestamp is stale or early by %p ms', (offset) => {
    // WHEN/THEN
    expect(() =>
      verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, { now: VECTOR_NOW + offset }),
    ).toThrow(/too old or too far in the future/);
  });

  it('accepts a timestamp within a custom tolerance', () => {
    // GIVEN a clock an hour late and a tolerance of two hours
    const options = { now: VECTOR_NOW + 3_600_000, toleranceSeconds: 7_200 };
    // WHEN
    const id = verifyWebhook(VECTOR.secret, vectorHeaders(), VECTOR.body, options);
    // THEN
    expect(id).toBe(VECTOR.id);
  });
});

describe('signingKeys of a raw secret', () => {
  it('ignores surrounding whitespace, as a receiver reading the same stored value does', () => {
    // GIVEN a raw (non-whsec_) secret stored with a trailing newline
    // WHEN its keys are derived THEN they are those of the trimmed secret
    expect(signingKeys('my-raw-secret\n')).toEqual(signingKeys('my-raw-secret'));
    expect(signingKeys('my-raw-secret')).toEqual([Buffer.from('my-raw-secret', 'utf8')]);
  });
});

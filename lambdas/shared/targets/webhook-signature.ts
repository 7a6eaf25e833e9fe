import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, spec 1.0.0), symmetric scheme: an
 * HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, sent as `webhook-signature: v1,<base64>`.
 * The WAL signs every http target delivery with it; receivers import (or copy) {@link verifyWebhook}, or
 * use any Standard Webhooks library with a `whsec_` secret. This file depends on node:crypto only.
 *
 * Secrets: `whsec_<base64>` (the spec's serialization; the key is the decoded bytes) or any other string
 * (the key is its UTF-8 bytes). Several whitespace-separated `whsec_` secrets sign with each (the spec's
 * zero-downtime rotation: the header then lists one signature per secret, and the receiver accepts any).
 */

export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** How far a timestamp may be from the receiver's clock, by default (the spec's libraries use 5 minutes). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const SECRET_PREFIX = 'whsec_';
const SIGNATURE_VERSION = 'v1';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A signing secret that cannot be used (empty, or a `whsec_` secret that is not base64). */
export class InvalidWebhookSecretError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    // Never the secret itself: this message may end up in a log or a DLQ message.
    super(
      `Invalid webhook signing secret: ${reason}. Store "whsec_<base64>" or a non-empty string.`,
      options,
    );
    this.name = 'InvalidWebhookSecretError';
  }
}

/** A delivery whose signature does not verify; `reason` says which check failed. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Webhook signature verification failed: ${reason}. Refuse the request (answer 401).`, options);
    this.name = 'WebhookVerificationError';
  }
}

/** The HMAC keys a secret value holds: one, or one per `whsec_` secret when it lists several. */
export function signingKeys(secret: string): Buffer[] {
  const tokens = secret.trim().split(/\s+/);
  if (tokens.length > 1 && tokens.every((token) => token.startsWith(SECRET_PREFIX))) {
    return tokens.map(keyOf);
  }
  // A stored value often ends in a newline; receivers trim theirs too.
  return [keyOf(secret.trim())];
}

function keyOf(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) {
    if (secret.length === 0) throw new InvalidWebhookSecretError('it is empty');
    return Buffer.from(secret, 'utf8');
  }
  const encoded = secret.slice(SECRET_PREFIX.length).trim();
  if (!BASE64.test(encoded)) throw new InvalidWebhookSecretError('the part after "whsec_" is not base64');
  return Buffer.from(encoded, 'base64');
}

/** What is signed: the message id, the unix-seconds timestamp and the exact body bytes sent. */
export interface SignedContent {
  readonly id: string;
  readonly timestamp: number;
  readonly body: string | Buffer;
}

function hmac(key: Buffer, { id, timestamp, body }: SignedContent): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** The `webhook-signature` value: `v1,<base64>`, space-separated when the secret holds several keys. */
export function signWebhook(secret: string, content: SignedContent): string {
  return signingKeys(secret)
    .map((key) => `${SIGNATURE_VERSION},${hmac(key, content).toString('base64')}`)
    .join(' ');
}

/** The three Standard Webhooks headers of a delivery. */
export function webhookHeaders(secret: string, content: SignedContent): Record<string, string> {
  return {
    [WEBHOOK_HEADERS.id]: content.id,
    [WEBHOOK_HEADERS.timestamp]: String(content.timestamp),
    [WEBHOOK_HEADERS.signature]: signWebhook(secret, content),
  };
}

/** Request headers as Node's `IncomingHttpHeaders` (lower-case names) or a fetch `Headers`. */
export type HeadersLike = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

function header(headers: HeadersLike, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  return typeof value === 'string' ? value : value?.[0];
}

export interface VerifyOptions {
  /** How far `webhook-timestamp` may be from now, either way. @default 300 */
  readonly toleranceSeconds?: number;
  /** The receiver's clock, epoch ms. @default Date.now() */
  readonly now?: number;
}

/**
 * Verifies a delivery: pass the raw body exactly as received (not re-serialized JSON). Throws
 * {@link WebhookVerificationError} unless one `v1` signature of the header matches one key of `secret`
 * (compared in constant time) and the timestamp is within the tolerance. Returns the webhook id, which is
 * the mutation id: the receiver's idempotency key.
 */
export function verifyWebhook(
  secret: string,
  headers: HeadersLike,
  body: string | Buffer,
  options: VerifyOptions = {},
): string {
  const id = header(headers, WEBHOOK_HEADERS.id);
  const timestampText = header(headers, WEBHOOK_HEADERS.timestamp);
  const signatures = header(headers, WEBHOOK_HEADERS.signature);
  if (!id || !timestampText || !signatures)
    throw new WebhookVerificationError('a webhook-* header is missing');
  if (!/^\d{1,12}$/.test(timestampText))
    throw new WebhookVerificationError('the timestamp is not unix seconds');
  const timestamp = Number(timestampText);
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) {
    throw new WebhookVerificationError('the timestamp is too old or too far in the future');
  }
  const expected = signingKeys(secret).map((key) => hmac(key, { id, timestamp, body }));
  const matches = signatures
    .split(' ')
    .filter((candidate) => candidate.startsWith(`${SIGNATURE_VERSION},`))
    .map((candidate) => Buffer.from(candidate.slice(SIGNATURE_VERSION.length + 1), 'base64'))
    .some((given) => expected.some((mac) => given.length === mac.length && timingSafeEqual(given, mac)));
  if (!matches) throw new WebhookVerificationError('no v1 signature matches the secret');
  return id;
}

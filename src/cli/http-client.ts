import { createHash, createHmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

/** The local runtime's API, used when no --endpoint is given. */
export const DEFAULT_LOCAL_ENDPOINT = 'http://127.0.0.1:3000';

export interface WalHttpAnswer {
  readonly status: number;
  readonly body: unknown;
}

class WalRequestError extends Error {
  constructor(
    readonly url: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      `Cannot reach the WAL at ${url}: ${reason}. Is it running? Start it with "npm start", or pass --endpoint ` +
        "with the deployed stack's ApiUrl output.",
      options,
    );
    this.name = 'WalRequestError';
  }
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer | string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** SHA-256 (or HMAC-SHA-256 with a secret) in the shape SignatureV4 expects. */
class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', toBuffer(secret)) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** `<api>.execute-api.<region>.amazonaws.com` -> region; else the environment's. */
function regionOf(url: URL): string {
  const match = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname);
  return match?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
}

/**
 * Calls the WAL's HTTP API. A deployed stack (https) gets a SigV4-signed request with the caller's
 * AWS credentials, as its AWS_IAM routes require; the local runtime (http on loopback) gets it plain.
 */
export async function callWal(
  endpoint: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<WalHttpAnswer> {
  const url = new URL(path, endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  let requestHeaders: Record<string, string> = {
    host: url.host,
    ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
    ...headers,
  };
  if (url.protocol === 'https:') {
    const signer = new SignatureV4({
      service: 'execute-api',
      region: regionOf(url),
      credentials: defaultProvider(),
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: requestHeaders,
      ...(payload !== undefined ? { body: payload } : {}),
    });
    requestHeaders = signed.headers;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: requestHeaders,
      ...(payload !== undefined ? { body: payload } : {}),
    });
  } catch (error) {
    throw new WalRequestError(url.toString(), { cause: error });
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, body: parsed };
}

import type { LoggedMutation } from '#lambdas/shared/envelope';
import { ENV } from '#lambdas/shared/environment';
import type { HttpTargetConfig } from '#lambdas/shared/namespace-config';
import type { MessageEnvelope } from './message-envelope';
import { MessageTarget } from './message-target';
import { PermanentTargetError, TransientTargetError } from './target-errors';
import { readWebhookSecret, type SecretClients } from './webhook-secret';
import { InvalidWebhookSecretError, type SignedContent, webhookHeaders } from './webhook-signature';

/** How long the WAL waits for a webhook's answer unless the target sets `timeoutSeconds`. */
export const DEFAULT_HTTP_TIMEOUT_SECONDS = 5;
/** Characters of a refusing answer's body kept in the error (and so in the DLQ message). */
const RESPONSE_EXCERPT_CHARS = 200;
/** Bytes of an answer's body read at most, whatever it holds. */
const RESPONSE_READ_BYTES = 4096;

/** Whether this container may POST to plain `http://` URLs: the stack allows it in local mode only. */
export function plainHttpAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[ENV.allowHttpTargets] === 'true';
}

export interface HttpTargetOptions {
  /** Plain `http://` URLs are refused unless this is set (local mode). */
  readonly allowPlainHttp: boolean;
  /** Epoch ms, for the `webhook-timestamp`. @default Date.now */
  readonly now?: () => number;
}

/**
 * A webhook: POSTs the JSON envelope with `Idempotency-Key: <mutation id>` and a Standard Webhooks
 * signature (webhook-signature.ts). 2xx = applied; 408, 429, 5xx, network errors and timeouts are retried;
 * any other answer (3xx included: redirects are not followed) goes to the DLQ with the status and the
 * start of the body. No order per key: receivers dedup by the id and may discard an older `order`.
 */
export class HttpTarget extends MessageTarget {
  readonly name: string;
  readonly type = 'http';

  constructor(
    private readonly config: HttpTargetConfig,
    private readonly clients: SecretClients,
    private readonly options: HttpTargetOptions,
  ) {
    super();
    this.name = config.name;
  }

  protected async send(envelope: MessageEnvelope, mutation: LoggedMutation): Promise<void> {
    const url = this.checkedUrl();
    const secret = await readWebhookSecret(this.name, this.config.secret, this.clients);
    const body = JSON.stringify(envelope);
    const id = mutation.envelope.id;
    const timestamp = Math.floor((this.options.now ?? Date.now)() / 1000);
    const timeoutSeconds = this.config.timeoutSeconds ?? DEFAULT_HTTP_TIMEOUT_SECONDS;
    const signature = this.signatureHeaders(secret, { id, timestamp, body });
    const signal = AbortSignal.timeout(timeoutSeconds * 1000);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': id,
          'user-agent': 'serverless-wal',
          ...signature,
        },
        body,
        redirect: 'manual',
        signal,
      });
    } catch (error) {
      throw this.requestError(error, timeoutSeconds);
    }
    await this.checkAnswer(response);
  }

  /** The signature headers; a secret that cannot sign is the operator's to fix: the DLQ, not retries. */
  private signatureHeaders(secret: string, content: SignedContent): Record<string, string> {
    try {
      return webhookHeaders(secret, content);
    } catch (error) {
      if (!(error instanceof InvalidWebhookSecretError)) throw error;
      throw new PermanentTargetError(this.name, error.message, { cause: error });
    }
  }

  private checkedUrl(): URL {
    const url = new URL(this.config.url);
    if (url.protocol !== 'https:' && !this.options.allowPlainHttp) {
      throw new PermanentTargetError(
        this.name,
        `its url uses ${url.protocol}//, which is refused outside local mode: use an https:// URL`,
      );
    }
    return url;
  }

  private requestError(error: unknown, timeoutSeconds: number): TransientTargetError {
    const name = (error as { name?: unknown } | undefined)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new TransientTargetError(this.name, `no answer within ${timeoutSeconds} s`, { cause: error });
    }
    const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
    const reason = typeof cause?.code === 'string' ? cause.code : errorText(error);
    return new TransientTargetError(this.name, `the request failed (${reason})`, { cause: error });
  }

  private async checkAnswer(response: Response): Promise<void> {
    const { status } = response;
    if (status >= 200 && status < 300) {
      await response.body?.cancel().catch(() => undefined);
      return;
    }
    const excerpt = await bodyExcerpt(response);
    const detail = `answered ${status}${excerpt === '' ? '' : `: ${excerpt}`}`;
    if (status === 408 || status === 429 || status >= 500) throw new TransientTargetError(this.name, detail);
    const hint = status >= 300 && status < 400 ? ' (redirects are not followed: set the final URL)' : '';
    throw new PermanentTargetError(this.name, `${detail}${hint}`);
  }
}

/** The start of an answer's body, on one line: never its headers, never more than a few KB read. */
async function bodyExcerpt(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < RESPONSE_READ_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } catch {
    // A body cut off (or timed out) still leaves the status to report.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/[\s\p{Cc}]+/gu, ' ')
    .trim();
  return text.length > RESPONSE_EXCERPT_CHARS ? `${text.slice(0, RESPONSE_EXCERPT_CHARS)}…` : text;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

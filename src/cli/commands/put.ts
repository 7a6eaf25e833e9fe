import { readFileSync } from 'node:fs';
import { callWal, type WalHttpAnswer } from '#src/cli/http-client';
import { UsageError } from '#src/cli/usage-error';

export interface PutOptions {
  readonly endpoint: string;
  readonly namespace: string;
  /** JSON text, or `@path` to read it from a file. */
  readonly payload: string;
  readonly key?: string;
  readonly delaySeconds?: number;
  readonly op?: string;
}

/** `wal put <namespace> --payload <json|@file> [--key K] [--delay S]` */
export async function putMutation(options: PutOptions): Promise<WalHttpAnswer> {
  const text = options.payload.startsWith('@') ? readPayloadFile(options.payload.slice(1)) : options.payload;
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--payload is not valid JSON (${(error as Error).message}). Quote it: --payload '{"id":"a1"}'.`,
    );
  }
  const body = {
    payload,
    ...(options.op ? { op: options.op } : {}),
    ...(options.delaySeconds !== undefined ? { lifecycle: { delaySeconds: options.delaySeconds } } : {}),
  };
  const headers: Record<string, string> = options.key ? { 'idempotency-key': options.key } : {};
  return callWal(
    options.endpoint,
    'POST',
    `v1/namespaces/${encodeURIComponent(options.namespace)}/mutations`,
    body,
    headers,
  );
}

function readPayloadFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read the payload file ${path}: ${(error as Error).message}`);
  }
}

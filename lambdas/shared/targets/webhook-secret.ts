import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { HttpTargetConfig } from '#lambdas/shared/namespace-config';
import { PermanentTargetError, TransientTargetError } from './target-errors';

/**
 * How long a container signs with a secret it has read: a rotated secret is picked up within this time.
 * Receivers should accept the old and the new secret for at least this long (the spec's rotation: a
 * secret value listing `whsec_new whsec_old` signs with both).
 */
export const SECRET_MAX_AGE_MS = 5 * 60_000;

export type SecretReference = HttpTargetConfig['secret'];

export interface SecretClients {
  readonly ssm: SSMClient;
  readonly secretsManager: SecretsManagerClient;
}

/**
 * Errors that an operator must fix (the secret or its parameter is missing, access or its KMS key is
 * denied): the delivery goes to the DLQ with the reason and is redriven once the secret is readable.
 * Throttling, 5xx and network errors are retried.
 */
const PERMANENT_SECRET_ERRORS = new Set([
  'ParameterNotFound',
  'ParameterVersionNotFound',
  'InvalidKeyId',
  'AccessDeniedException',
  'AccessDenied',
  'ResourceNotFoundException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
  'ValidationException',
]);

interface CachedSecret {
  readonly value: Promise<string>;
  readonly readAt: number;
}

/** Per container (module scope): targets are created per delivery, the secret is read once per max age. */
const cache = new Map<string, CachedSecret>();

/** Forgets every cached secret (tests). */
export function clearSecretCache(): void {
  cache.clear();
}

function describeReference(reference: SecretReference): string {
  return 'ssmParameter' in reference
    ? `SSM parameter ${reference.ssmParameter}`
    : `secret ${reference.secretArn}`;
}

/**
 * The signing secret of an http target, from an SSM SecureString or Secrets Manager, cached for
 * {@link SECRET_MAX_AGE_MS}. Concurrent deliveries share one read; a failed read is not cached. The value
 * is never logged and never part of an error.
 */
export function readWebhookSecret(
  target: string,
  reference: SecretReference,
  clients: SecretClients,
  now: number = Date.now(),
): Promise<string> {
  const key = describeReference(reference);
  const cached = cache.get(key);
  if (cached && now - cached.readAt < SECRET_MAX_AGE_MS) return cached.value;
  const value = fetchSecret(target, reference, clients);
  cache.set(key, { value, readAt: now });
  value.catch(() => {
    if (cache.get(key)?.value === value) cache.delete(key);
  });
  return value;
}

async function fetchSecret(
  target: string,
  reference: SecretReference,
  clients: SecretClients,
): Promise<string> {
  let value: string | undefined;
  try {
    if ('ssmParameter' in reference) {
      const answer = await clients.ssm.send(
        new GetParameterCommand({ Name: reference.ssmParameter, WithDecryption: true }),
      );
      value = answer.Parameter?.Value;
    } else {
      const answer = await clients.secretsManager.send(
        new GetSecretValueCommand({ SecretId: reference.secretArn }),
      );
      value = answer.SecretString;
    }
  } catch (error) {
    throw secretReadError(target, reference, error);
  }
  if (value === undefined || value === '') {
    throw new PermanentTargetError(
      target,
      `the signing secret (${describeReference(reference)}) is empty or not a string (binary secrets are not ` +
        'supported): store "whsec_<base64>" or a string, then redrive the DLQ',
    );
  }
  return value;
}

function secretReadError(target: string, reference: SecretReference, error: unknown): Error {
  const name = (error as { name?: unknown } | undefined)?.name;
  const detail = `${typeof name === 'string' ? name : 'error'}: ${error instanceof Error ? error.message : String(error)}`;
  if (typeof name === 'string' && PERMANENT_SECRET_ERRORS.has(name)) {
    return new PermanentTargetError(
      target,
      `cannot read its signing secret (${describeReference(reference)}): ${detail}. Fix the secret or the ` +
        "consumers' access to it (and to its KMS key), then redrive the DLQ",
      { cause: error },
    );
  }
  return new TransientTargetError(
    target,
    `reading its signing secret (${describeReference(reference)}) failed: ${detail}`,
    { cause: error },
  );
}

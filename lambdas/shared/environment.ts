import * as z from 'zod/mini';
import './zod-locale';

/**
 * The environment variables the stack sets on the Lambdas. CDK (lib/) and the handlers both use
 * these names, so a rename cannot drift between the two.
 */
export const ENV = {
  stage: 'WAL_STAGE',
  ledgerTableName: 'LEDGER_TABLE_NAME',
  streamName: 'STREAM_NAME',
  namespaceParameterPrefix: 'NAMESPACE_PARAMETER_PREFIX',
  delayQueueUrl: 'DELAY_QUEUE_URL',
  retryQueueUrl: 'RETRY_QUEUE_URL',
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  commitTimeoutSeconds: 'COMMIT_TIMEOUT_SECONDS',
  waitingRoomTableName: 'WAITING_ROOM_TABLE_NAME',
  failFenceSeconds: 'FAIL_FENCE_SECONDS',
  configMaxAgeSeconds: 'CONFIG_MAX_AGE_SECONDS',
  /** `true` lets http targets POST to plain `http://` URLs: set by the stack in local mode only. */
  allowHttpTargets: 'WAL_ALLOW_HTTP_TARGETS',
} as const;

export type EnvKey = keyof typeof ENV;

class MissingEnvironmentError extends Error {
  constructor(readonly variables: string[]) {
    super(
      `Missing environment variable(s): ${variables.join(', ')}. ` +
        'They are set by the CDK stack; when running a handler by hand, set them yourself.',
    );
    this.name = 'MissingEnvironmentError';
  }
}

/** Reads the named variables, failing with one error that lists every missing one. */
export function readEnvironment<K extends EnvKey>(
  keys: readonly K[],
  source: NodeJS.ProcessEnv = process.env,
): Record<K, string> {
  const missing = keys.filter((key) => !source[ENV[key]]);
  if (missing.length > 0) throw new MissingEnvironmentError(missing.map((key) => ENV[key]));
  return Object.fromEntries(keys.map((key) => [key, source[ENV[key]] as string])) as Record<K, string>;
}

export const positiveSeconds = z.coerce.number().check(z.int(), z.positive());

import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';

/**
 * A namespace config change in the middle of a run, as an operator makes one: the namespace's SSM
 * parameter rewritten with other retry settings, later put back. Nothing may be lost across it.
 */
class ConfigChangeError extends Error {
  constructor(parameterName: string, options?: { cause?: unknown }) {
    super(`cannot change the namespace parameter ${parameterName}`, options);
    this.name = 'ConfigChangeError';
  }
}

/** Other retry settings, still valid for the namespace schema (maxBackoffSeconds >= initialBackoffSeconds). */
const CHANGED_RETRY = {
  maxAttempts: 14,
  initialBackoffSeconds: 2,
  backoffMultiplier: 2,
  maxBackoffSeconds: 4,
  jitter: 'none',
} as const;

export interface ConfigChange {
  /** Writes the changed config; returns the original value to restore. */
  apply(): Promise<void>;
  restore(): Promise<void>;
}

export function configChange(ssm: SSMClient, parameterName: string): ConfigChange {
  let original: string | undefined;
  const put = async (value: string) => {
    await ssm.send(
      new PutParameterCommand({ Name: parameterName, Value: value, Type: 'String', Overwrite: true }),
    );
  };
  return {
    async apply() {
      try {
        const answer = await ssm.send(new GetParameterCommand({ Name: parameterName }));
        original = answer.Parameter?.Value ?? '';
        const config = JSON.parse(original) as Record<string, unknown>;
        await put(JSON.stringify({ ...config, retry: CHANGED_RETRY }));
      } catch (error) {
        throw new ConfigChangeError(parameterName, { cause: error });
      }
    },
    async restore() {
      if (original === undefined) return;
      try {
        await put(original);
      } catch (error) {
        throw new ConfigChangeError(parameterName, { cause: error });
      }
    },
  };
}

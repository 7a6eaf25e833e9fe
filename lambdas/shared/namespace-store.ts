import type { Logger } from '@aws-lambda-powertools/logger';
import { GetParameterCommand, ParameterNotFound, type SSMClient } from '@aws-sdk/client-ssm';
import { positiveSeconds, readEnvironment } from './environment';
import { errorMessage } from './logger';
import { NAMESPACE_NAME_PATTERN, type NamespaceConfig, parseNamespaceConfig } from './namespace-config';

export class UnknownNamespaceError extends Error {
  constructor(
    readonly namespace: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Namespace "${namespace}" does not exist. Check the name, or add config/<stage>/${namespace}.json and deploy.`,
      options,
    );
    this.name = 'UnknownNamespaceError';
  }
}

export class NamespaceConfigUnavailableError extends Error {
  constructor(
    readonly namespace: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The config of namespace "${namespace}" cannot be read now (Parameter Store failed or holds an invalid value) and no earlier value is cached. Retry later.`,
      options,
    );
    this.name = 'NamespaceConfigUnavailableError';
  }
}

export interface NamespaceConfigSource {
  /** The namespace's config; throws UnknownNamespaceError or NamespaceConfigUnavailableError. */
  get(namespace: string): Promise<NamespaceConfig>;
}

interface CacheEntry {
  config: NamespaceConfig;
  fetchedAt: number;
}

/**
 * Namespace configs from SSM Parameter Store, cached for `maxAgeMs`. When SSM fails or a new value
 * is invalid, the last good value is kept (and logged), so a bad edit cannot stop the data path.
 */
export class SsmNamespaceConfigStore implements NamespaceConfigSource {
  private readonly cache = new Map<string, CacheEntry>();
  /** Loads in flight; only settled values go to `cache`, so a failed load is never kept. */
  private readonly loading = new Map<string, Promise<NamespaceConfig>>();

  constructor(
    private readonly ssm: SSMClient,
    private readonly parameterPrefix: string,
    private readonly maxAgeMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async get(namespace: string): Promise<NamespaceConfig> {
    if (!NAMESPACE_NAME_PATTERN.test(namespace)) throw new UnknownNamespaceError(namespace);
    const cached = this.cache.get(namespace);
    if (cached && this.now() - cached.fetchedAt < this.maxAgeMs) return cached.config;
    // One GetParameter per namespace at a time: concurrent misses (key lanes, batch members) share it.
    const inFlight = this.loading.get(namespace);
    if (inFlight) return inFlight;
    const load = this.load(namespace, cached).finally(() => this.loading.delete(namespace));
    this.loading.set(namespace, load);
    return load;
  }

  private async load(namespace: string, cached: CacheEntry | undefined): Promise<NamespaceConfig> {
    const parameterName = `${this.parameterPrefix}${namespace}`;
    let value: string | undefined;
    try {
      const answer = await this.ssm.send(new GetParameterCommand({ Name: parameterName }));
      value = answer.Parameter?.Value;
    } catch (error) {
      if (error instanceof ParameterNotFound) {
        this.cache.delete(namespace);
        throw new UnknownNamespaceError(namespace, { cause: error });
      }
      return this.keepLastGood(namespace, cached, error, `reading ${parameterName} failed`);
    }
    try {
      const config = parseNamespaceConfig(JSON.parse(value ?? ''), parameterName);
      if (config.name !== namespace) {
        throw new Error(`parameter ${parameterName} holds the config of namespace "${config.name}"`);
      }
      this.cache.set(namespace, { config, fetchedAt: this.now() });
      return config;
    } catch (error) {
      return this.keepLastGood(namespace, cached, error, `${parameterName} holds an invalid config`);
    }
  }

  private keepLastGood(
    namespace: string,
    cached: CacheEntry | undefined,
    error: unknown,
    what: string,
  ): NamespaceConfig {
    if (!cached) throw new NamespaceConfigUnavailableError(namespace, { cause: error });
    this.logger.error('Keeping the last good namespace config', {
      namespace,
      problem: what,
      error: errorMessage(error),
    });
    // Look again after another max age rather than on every call while SSM is failing.
    cached.fetchedAt = this.now();
    return cached.config;
  }
}

/** The store the handlers use: SSM under the stack's parameter prefix, cached for the stack's max age. */
export function namespaceStoreFromEnvironment(ssm: SSMClient, logger: Logger): SsmNamespaceConfigStore {
  const env = readEnvironment(['namespaceParameterPrefix', 'configMaxAgeSeconds']);
  return new SsmNamespaceConfigStore(
    ssm,
    env.namespaceParameterPrefix,
    positiveSeconds.parse(env.configMaxAgeSeconds) * 1000,
    logger,
  );
}

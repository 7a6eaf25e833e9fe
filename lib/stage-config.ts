import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  InvalidNamespaceConfigError,
  LEDGER_MIN_RETENTION_DAYS,
  type NamespaceConfig,
  type ProvisionableType,
  parseNamespaceConfig,
  RESOURCE_FIELDS,
  type TargetConfig,
} from '#lambdas/shared/namespace-config';
import { DEFAULT_HTTP_TIMEOUT_SECONDS } from '#lambdas/shared/targets/http-target';
import { DEFAULT_LAMBDA_TIMEOUT_SECONDS } from '#lambdas/shared/targets/lambda-target';
import { PROVISIONED_LOCK_FILE } from './provisioned-lock';
import { checkWebhookTimeout } from './timeout-budget';
import {
  DEFAULT_API_THROTTLE,
  DEFAULT_CONFIG_MAX_AGE,
  DEFAULT_CONSUMER_TIMEOUT,
  DEFAULT_LOG_LEVEL,
  DEFAULT_MAX_RECEIVE_COUNT,
  DEFAULT_STREAM_BATCH_SIZE,
  DEFAULT_STREAM_MAX_RECORD_AGE,
  DEFAULT_STREAM_RETENTION,
  DEFAULT_STREAM_RETRY_ATTEMPTS,
  type LogLevel,
} from './wal-defaults';

/** Where the per-stage namespace definitions live: `config/<stage>/<namespace>.json`. */
export const DEFAULT_CONFIG_DIR = path.resolve(__dirname, '..', 'config');

/**
 * A stage name ends up in the stack name, the SSM path and resource names, so it is kept short
 * and to the characters all of them accept.
 */
const STAGE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;

/** Operational settings of a stage: everything that is not a namespace definition. */
export interface StageSettings {
  /**
   * What happens to stateful resources (KMS key, stream, tables, queues, log groups) when they
   * leave the stack.
   * @default RemovalPolicy.RETAIN for `prod`, RemovalPolicy.DESTROY for every other stage
   */
  readonly removalPolicy: RemovalPolicy;
  /**
   * How long Kinesis keeps records. Beyond it, replay reads the ledger instead.
   * @default Duration.days(7) for `prod`, Duration.hours(24) for every other stage
   */
  readonly streamRetention: Duration;
  /**
   * Retention of the Lambda and API access log groups.
   * @default RetentionDays.THREE_MONTHS for `prod`, RetentionDays.ONE_WEEK for every other stage
   */
  readonly logRetention: RetentionDays;
  /**
   * `POWERTOOLS_LOG_LEVEL` of every Lambda.
   * @default 'DEBUG' for `local`, 'INFO' for every other stage
   */
  readonly logLevel: LogLevel;
  /**
   * How long a Lambda trusts its cached copy of a namespace config before it reads SSM again.
   * @default Duration.seconds(5) for `local`, Duration.seconds(60) for every other stage
   */
  readonly configMaxAge: Duration;
  /**
   * Steady-state request rate (per second) of the API's default stage.
   * @default 1000 for `prod`, 100 for every other stage
   */
  readonly apiRateLimit: number;
  /**
   * Burst limit of the API's default stage.
   * @default 2000 for `prod`, 200 for every other stage
   */
  readonly apiBurstLimit: number;
  /**
   * Receives after which the delay, retry and stream-failure queues move a message to the DLQ
   * (their `RedrivePolicy.maxReceiveCount`). An integer from 1 to 1000. The queues' visibility
   * timeout does not depend on it: it stays 6x the consumer timeout (360 s) in every stage.
   * @default 5 for every stage
   */
  readonly queueMaxReceiveCount: number;
  /**
   * Records per invocation of the stream consumer (the Kinesis mapping's `BatchSize`).
   * An integer from 1 to 10000.
   * @default 100 for every stage
   */
  readonly streamBatchSize: number;
  /**
   * Retries of a failing stream batch before its range goes to the stream-failure queue (the
   * Kinesis mapping's `MaximumRetryAttempts`). An integer from 0 to 10000.
   * @default 10 for every stage
   */
  readonly streamRetryAttempts: number;
  /**
   * Age after which a stream record goes to the stream-failure queue instead of being retried (the
   * Kinesis mapping's `MaximumRecordAgeInSeconds`). Whole seconds from 60 s to 7 days, and shorter
   * than {@link streamRetention}.
   * @default Duration.hours(6) for every stage
   */
  readonly streamMaxRecordAge: Duration;
  /**
   * Timeout of the stream and queue consumer Lambdas; the queues' visibility timeout is 6 times it
   * (AWS's guidance for SQS event sources), so it also sets how soon a failed message comes back.
   * @default Duration.seconds(60) for every stage
   */
  readonly consumerTimeout: Duration;
  /**
   * Let http targets POST to plain `http://` URLs (a receiver on the developer's machine). Everywhere
   * else a webhook must be `https://`: the synth fails on an `http://` url, and the consumers refuse one
   * at runtime (lambdas/shared/targets/http-target.ts).
   * @default true for `local`, false for every other stage
   */
  readonly allowHttpTargets: boolean;
  /**
   * Whether synth compares the provisioned targets with `config/<stage>/provisioned.lock.json` and refuses a
   * change that would replace one (lib/provisioned-lock.ts).
   * @default true for `prod`, false for every other stage
   */
  readonly provisionedLock: boolean;
}

/**
 * The settings of any stage that {@link STAGE_SETTINGS_OVERRIDES} does not mention: the constructs'
 * defaults (lib/wal-defaults.ts), except that such a stage is disposable: its data goes with the
 * stack and its logs are kept a week.
 */
const DEFAULT_STAGE_SETTINGS: StageSettings = {
  removalPolicy: RemovalPolicy.DESTROY,
  streamRetention: DEFAULT_STREAM_RETENTION,
  logRetention: RetentionDays.ONE_WEEK,
  logLevel: DEFAULT_LOG_LEVEL,
  configMaxAge: DEFAULT_CONFIG_MAX_AGE,
  apiRateLimit: DEFAULT_API_THROTTLE.rateLimit,
  apiBurstLimit: DEFAULT_API_THROTTLE.burstLimit,
  queueMaxReceiveCount: DEFAULT_MAX_RECEIVE_COUNT,
  streamBatchSize: DEFAULT_STREAM_BATCH_SIZE,
  streamRetryAttempts: DEFAULT_STREAM_RETRY_ATTEMPTS,
  streamMaxRecordAge: DEFAULT_STREAM_MAX_RECORD_AGE,
  consumerTimeout: DEFAULT_CONSUMER_TIMEOUT,
  allowHttpTargets: false,
  provisionedLock: false,
};

/** Per-stage departures from {@link DEFAULT_STAGE_SETTINGS}. */
const STAGE_SETTINGS_OVERRIDES: Readonly<Record<string, Partial<StageSettings>>> = {
  // Production keeps its data when the stack or a resource goes away, and keeps the log longer.
  prod: {
    removalPolicy: RemovalPolicy.RETAIN,
    streamRetention: Duration.days(7),
    logRetention: RetentionDays.THREE_MONTHS,
    apiRateLimit: 1000,
    apiBurstLimit: 2000,
    provisionedLock: true,
  },
  // Local runs pick up edited namespace configs quickly and log everything. The local runtime
  // emulates the redrive policy, so its receive count is pinned here (the default, 5) rather than
  // following a future change of the default; its queues keep the 360 s visibility timeout.
  // Webhook receivers run on the developer's machine, without TLS.
  local: {
    logLevel: 'DEBUG',
    configMaxAge: Duration.seconds(5),
    queueMaxReceiveCount: 5,
    allowHttpTargets: true,
  },
};

/** The settings of `stage`: defaults, then the stage's overrides, then `overrides`. */
export function stageSettings(stage: string, overrides: Partial<StageSettings> = {}): StageSettings {
  return { ...DEFAULT_STAGE_SETTINGS, ...STAGE_SETTINGS_OVERRIDES[stage], ...overrides };
}

/** A namespace config and the file it was read from. */
export interface LoadedNamespace {
  readonly config: NamespaceConfig;
  readonly source: string;
}

/** Everything the stack needs to know about a stage. */
export interface StageConfig {
  readonly stage: string;
  readonly directory: string;
  /** Sorted by name, so the synthesized template does not depend on directory order. */
  readonly namespaces: readonly LoadedNamespace[];
  readonly settings: StageSettings;
}

/** No `stage` was given (e.g. `cdk synth` without `-c stage=...`). */
export class MissingStageError extends Error {
  constructor(
    readonly available: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`No stage given: pass -c stage=<name>. ${describeAvailable(available)}`, options);
    this.name = 'MissingStageError';
  }
}

/** The stage has no folder under the config directory. */
export class UnknownStageError extends Error {
  constructor(
    readonly stage: string,
    readonly configDir: string,
    readonly available: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `Unknown stage "${stage}": there is no folder ${path.join(configDir, stage)}. ` +
        describeAvailable(available),
      options,
    );
    this.name = 'UnknownStageError';
  }
}

/** The stage name cannot be used in a stack name and an SSM path. */
export class InvalidStageNameError extends Error {
  constructor(
    readonly stage: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid stage name "${stage}": it must match ${STAGE_NAME_PATTERN}`, options);
    this.name = 'InvalidStageNameError';
  }
}

/** The stage folder holds no namespace definition. */
export class EmptyStageError extends Error {
  constructor(
    readonly stage: string,
    readonly directory: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Stage "${stage}" has no namespace: ${directory} contains no *.json file. ` +
        'A stage needs at least one config/<stage>/<namespace>.json.',
      options,
    );
    this.name = 'EmptyStageError';
  }
}

/** A namespace file is not valid JSON. */
export class NamespaceConfigSyntaxError extends Error {
  constructor(
    readonly source: string,
    options: { cause: unknown },
  ) {
    super(`Invalid JSON in ${source}: ${messageOf(options.cause)}`, options);
    this.name = 'NamespaceConfigSyntaxError';
  }
}

/** A namespace file's name does not match the `name` inside it. */
export class NamespaceFileNameMismatchError extends Error {
  constructor(
    readonly source: string,
    readonly fileName: string,
    readonly namespace: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Namespace file ${source} defines namespace "${namespace}" but is named "${fileName}.json": ` +
        `rename the file to ${namespace}.json or set "name": "${fileName}"`,
      options,
    );
    this.name = 'NamespaceFileNameMismatchError';
  }
}

/** The stages found under `configDir`: one folder each, sorted. */
export function listStages(configDir: string = DEFAULT_CONFIG_DIR): string[] {
  if (!fs.existsSync(configDir)) return [];
  return fs
    .readdirSync(configDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/**
 * Checks the `stage` context value and returns it. Fails with a message that lists the stages
 * found under `configDir`.
 */
export function resolveStage(value: unknown, configDir: string = DEFAULT_CONFIG_DIR): string {
  const available = listStages(configDir);
  if (value === undefined || value === null || value === '') throw new MissingStageError(available);
  const stage = String(value);
  if (!available.includes(stage)) throw new UnknownStageError(stage, configDir, available);
  if (!STAGE_NAME_PATTERN.test(stage)) throw new InvalidStageNameError(stage);
  return stage;
}

/**
 * Reads and validates `configDir/<stage>/*.json` with the runtime's zod schema, so a bad namespace
 * fails `cdk synth` instead of a Lambda at runtime.
 */
export function loadStageConfig(
  stage: string,
  configDir: string = DEFAULT_CONFIG_DIR,
  overrides: Partial<StageSettings> = {},
): StageConfig {
  resolveStage(stage, configDir);
  const directory = path.join(configDir, stage);
  const files = fs
    .readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json') && entry.name !== PROVISIONED_LOCK_FILE)
    .map((entry) => entry.name)
    .sort();
  if (files.length === 0) throw new EmptyStageError(stage, directory);

  const namespaces = files.map((file) => loadNamespaceFile(path.join(directory, file)));
  const settings = stageSettings(stage, overrides);
  for (const namespace of namespaces) checkNamespaceForStage(stage, namespace, settings);
  return { stage, directory, namespaces, settings };
}

/**
 * What a namespace must satisfy in its stage beyond the schema (retention against the stream, https webhooks,
 * webhook timeouts against the consumer's): checked at synth and by `wal ns set` before it writes.
 */
export function checkNamespaceForStage(
  stage: string,
  namespace: LoadedNamespace,
  settings: StageSettings,
): void {
  checkRetention(namespace, settings);
  if (!settings.allowHttpTargets) checkHttpsTargets(stage, namespace);
  checkWebhookTimeouts(namespace, settings);
}

/**
 * A ledger entry must outlive every copy of its mutation that may still be routed: a record the stream
 * keeps (and re-reads) for its whole retention, then the DLQ's 14 days, and the longest delay. Otherwise
 * a missing entry would make a committed mutation look uncommitted.
 */
function checkRetention({ config, source }: LoadedNamespace, settings: StageSettings): void {
  const streamDays = Math.ceil(settings.streamRetention.toHours() / 24);
  const delayDays = Math.ceil(config.delay.maxDelaySeconds / 86_400);
  const needed = LEDGER_MIN_RETENTION_DAYS + streamDays + delayDays;
  if (config.retentionDays < needed) {
    throw new InvalidNamespaceConfigError(source, [
      `retentionDays: must be at least ${needed} in this stage (the stream's ${streamDays} days of retention, ` +
        `the DLQ's 14 days plus a day, the longest delay's ${delayDays} days); it is ${config.retentionDays}`,
    ]);
  }
}

/** An http target with a plain `http://` url, in a stage that allows only HTTPS. */
export class PlainHttpTargetError extends Error {
  constructor(
    readonly stage: string,
    readonly namespace: string,
    readonly target: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Namespace "${namespace}", target "${target}": url ${url} is plain http://, which stage "${stage}" ` +
        'refuses (webhooks carry payloads in clear and are signed, not encrypted): use an https:// URL. ' +
        'Only the local stage (allowHttpTargets) may POST to http:// receivers.',
      options,
    );
    this.name = 'PlainHttpTargetError';
  }
}

function checkHttpsTargets(stage: string, { config }: LoadedNamespace): void {
  for (const target of config.targets) {
    if (target.type === 'http' && new URL(target.url).protocol !== 'https:') {
      throw new PlainHttpTargetError(stage, config.name, target.name, target.url);
    }
  }
}

function checkWebhookTimeouts({ config }: LoadedNamespace, settings: StageSettings): void {
  for (const target of config.targets) {
    if (target.type !== 'http' && target.type !== 'lambda') continue;
    const defaultSeconds =
      target.type === 'http' ? DEFAULT_HTTP_TIMEOUT_SECONDS : DEFAULT_LAMBDA_TIMEOUT_SECONDS;
    checkWebhookTimeout(
      settings.consumerTimeout,
      target.timeoutSeconds ?? defaultSeconds,
      `namespace "${config.name}", ${target.type} target "${target.name}"`,
    );
  }
}

/** Reads one `<namespace>.json` file, as the stack takes it (a provisioned target without its resource field). */
export function loadNamespaceFile(source: string): LoadedNamespace {
  const loaded = readNamespaceFile(source);
  // The stack fills the resource field of provisioned targets; a source file with both is ambiguous.
  const issues = loaded.config.targets.flatMap((target, index) => {
    const field = provisionedResourceField(target);
    return field === undefined || (target as Record<string, unknown>)[field] === undefined
      ? []
      : [`targets.${index}: target "${target.name}" sets both "${field}" and "provision": true; choose one`];
  });
  if (loaded.config.delivery.queues !== undefined) {
    issues.push('delivery.queues: the stack writes the queues of an isolated namespace; remove "queues"');
  }
  if (issues.length > 0) throw new InvalidNamespaceConfigError(source, issues);
  return loaded;
}

/**
 * Reads one `<namespace>.json` file: JSON, the namespace schema, the file name = the namespace name. What a
 * provisioned target's resource field may hold is left to the caller (`wal ns set` accepts the stack's value).
 */
export function readNamespaceFile(source: string): LoadedNamespace {
  const text = fs.readFileSync(source, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new NamespaceConfigSyntaxError(source, { cause: error });
  }
  const config = parseNamespaceConfig(json, source);

  const fileName = path.basename(source, '.json');
  if (fileName !== config.name) throw new NamespaceFileNameMismatchError(source, fileName, config.name);
  return { config, source };
}

/** The field the stack fills for a target with `provision: true` (RESOURCE_FIELDS), else undefined. */
export function provisionedResourceField(target: TargetConfig): string | undefined {
  if (!(target.type in RESOURCE_FIELDS) || !('provision' in target) || target.provision !== true)
    return undefined;
  return RESOURCE_FIELDS[target.type as ProvisionableType];
}

function describeAvailable(available: readonly string[]): string {
  return available.length > 0
    ? `Stages found under config/: ${available.join(', ')}.`
    : 'No stage folder found under config/.';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

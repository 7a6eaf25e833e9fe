import * as z from 'zod/mini';
import { RESERVED_ATTRIBUTE_PREFIX } from './targets/wal-attributes';
import './zod-locale';

/**
 * The namespace schema: one source of truth for `config/<stage>/*.json` (checked by CDK at synth)
 * and for the SSM parameter the runtime reads (checked again on every load).
 */

/** The longest namespace name: with the longest idempotency key it bounds the ledger's `pk`. */
export const NAMESPACE_NAME_MAX_LENGTH = 63;
export const NAMESPACE_NAME_PATTERN = new RegExp(`^[a-z0-9][a-z0-9_-]{0,${NAMESPACE_NAME_MAX_LENGTH - 1}}$`);
const TARGET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
/**
 * The largest payload a namespace may allow: every queue message carrying its envelope, base64 poison
 * included, must fit SQS's 1 MiB (message-budget.ts, test/cdk/message-size.test.ts), and a DynamoDB
 * target's item 400 KB. (The ledger no longer holds the envelope: its commit record is payload-free.)
 */
export const MAX_PAYLOAD_BYTES = 192 * 1024;
/** The DLQ keeps messages 14 days; a ledger entry must outlive them (plus a day of slack). */
export const LEDGER_MIN_RETENTION_DAYS = 15;
export const DAY_MS = 86_400_000;
/**
 * The shortest time any ledger entry or tombstone lives, whatever a namespace's `retentionDays` is now (it
 * may have been raised since an older entry was written): the schema's minimum, less a day of slack.
 */
export const SHORTEST_HISTORY_MS = (LEDGER_MIN_RETENTION_DAYS - 1) * DAY_MS;
/**
 * The longest delay a namespace may allow (30 days). Delays beyond SQS's 900 s hop through the delay
 * queue, one send and one invocation per 15 minutes: 30 days is about 2,900 hops per mutation and target.
 */
const MAX_DELAY_SECONDS = 30 * 24 * 3600;

const attributeName = z.string().check(
  z.minLength(1),
  z.maxLength(255),
  z.refine((name) => !name.startsWith(RESERVED_ATTRIBUTE_PREFIX), {
    message: `attribute names starting with "${RESERVED_ATTRIBUTE_PREFIX}" are reserved for the WAL`,
  }),
);

const keyType = z.enum(['string', 'number']);

const targetName = z
  .string()
  .check(z.regex(TARGET_NAME_PATTERN, 'target name must match [A-Za-z0-9][A-Za-z0-9_-]{0,62}'));

export const dynamoDbTargetSchema = z
  .strictObject({
    name: targetName,
    type: z.literal('dynamodb'),
    /** An existing table. Exactly one of `tableName` and `provision` is set in the source config. */
    tableName: z.optional(z.string().check(z.minLength(3), z.maxLength(255))),
    /** The stack creates the table (keyed by `key`); CDK then writes its name into `tableName`. */
    provision: z.optional(z.boolean()),
    key: z.strictObject({
      partitionKey: attributeName,
      /** The key attribute's DynamoDB type (a provisioned table is created with it). @default 'string' */
      partitionKeyType: z.optional(keyType),
      sortKey: z.optional(attributeName),
      /** @default 'string' */
      sortKeyType: z.optional(keyType),
    }),
  })
  .check(
    z.refine((target) => target.tableName !== undefined || target.provision === true, {
      message: 'a dynamodb target needs "tableName" (an existing table) or "provision": true',
    }),
  );

/**
 * The field that names a target's resource once it exists: set in the source config for an existing resource,
 * or written by the stack into the parameter for one it provisions (`provision: true`).
 */
export const RESOURCE_FIELDS = {
  dynamodb: 'tableName',
  sqs: 'queueUrl',
  kinesis: 'streamArn',
  sns: 'topicArn',
  eventbridge: 'eventBusArn',
} as const;
export type ProvisionableType = keyof typeof RESOURCE_FIELDS;

/** An existing resource (`field`) or `provision: true`; the source config may not set both (lib/stage-config.ts). */
function existingOrProvisioned(field: string) {
  return (target: { provision?: boolean | undefined }) =>
    (target as Record<string, unknown>)[field] !== undefined || target.provision === true;
}
function existingOrProvisionedMessage(type: string, field: string): { message: string } {
  return { message: `a ${type} target needs "${field}" (an existing resource) or "provision": true` };
}

const SQS_QUEUE_URL_PATTERN = /^https?:\/\/[^/\s]+\/\d{12}\/[A-Za-z0-9_-]{1,80}(\.fifo)?$/;

/**
 * An SQS queue, standard or FIFO (a URL ending in `.fifo`, or `fifo: true` when provisioned). FIFO: message
 * group = the partition key (hashed when SQS would refuse it), deduplication id = the mutation id.
 */
export const sqsTargetSchema = z
  .strictObject({
    name: targetName,
    type: z.literal('sqs'),
    /** An existing queue: `https://sqs.<region>.amazonaws.com/<account>/<name>`. */
    queueUrl: z.optional(
      z
        .string()
        .check(
          z.regex(
            SQS_QUEUE_URL_PATTERN,
            'must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)',
          ),
        ),
    ),
    /** The stack creates the queue; CDK then writes its URL into `queueUrl`. */
    provision: z.optional(z.boolean()),
    /** With `provision`: a FIFO queue. @default false */
    fifo: z.optional(z.boolean()),
  })
  .check(
    z.refine(existingOrProvisioned('queueUrl'), existingOrProvisionedMessage('sqs', 'queueUrl')),
    z.refine((target) => target.fifo === undefined || target.provision === true, {
      message:
        '"fifo" applies to a provisioned queue; an existing FIFO queue is known by its URL ending in ".fifo"',
      path: ['fifo'],
    }),
  );

const arnPattern = (service: string, resource: string) =>
  new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:${resource}$`);

/** A Kinesis data stream; the partition key is the mutation's (hashed beyond Kinesis's 256 characters). */
export const kinesisTargetSchema = z
  .strictObject({
    name: targetName,
    type: z.literal('kinesis'),
    streamArn: z.optional(
      z
        .string()
        .check(
          z.regex(arnPattern('kinesis', 'stream/[A-Za-z0-9_.-]{1,128}'), 'must be a Kinesis stream ARN'),
        ),
    ),
    provision: z.optional(z.boolean()),
    /** With `provision`: shards of the stream. @default 1 */
    shardCount: z.optional(z.number().check(z.int(), z.gte(1), z.lte(500))),
  })
  .check(
    z.refine(existingOrProvisioned('streamArn'), existingOrProvisionedMessage('kinesis', 'streamArn')),
    z.refine((target) => target.shardCount === undefined || target.provision === true, {
      message: '"shardCount" applies to a provisioned stream',
      path: ['shardCount'],
    }),
  );

/** An SNS topic, standard or FIFO (an ARN ending in `.fifo`, or `fifo: true` when provisioned). */
export const snsTargetSchema = z
  .strictObject({
    name: targetName,
    type: z.literal('sns'),
    topicArn: z.optional(
      z
        .string()
        .check(z.regex(arnPattern('sns', '[A-Za-z0-9_-]{1,256}(\\.fifo)?'), 'must be an SNS topic ARN')),
    ),
    provision: z.optional(z.boolean()),
    fifo: z.optional(z.boolean()),
  })
  .check(
    z.refine(existingOrProvisioned('topicArn'), existingOrProvisionedMessage('sns', 'topicArn')),
    z.refine((target) => target.fifo === undefined || target.provision === true, {
      message:
        '"fifo" applies to a provisioned topic; an existing FIFO topic is known by its ARN ending in ".fifo"',
      path: ['fifo'],
    }),
  );

/** An EventBridge bus; each mutation is one event with `source` and `detail-type` from here. */
export const eventBridgeTargetSchema = z
  .strictObject({
    name: targetName,
    type: z.literal('eventbridge'),
    eventBusArn: z.optional(
      z
        .string()
        .check(
          z.regex(
            arnPattern('events', 'event-bus/[A-Za-z0-9._/-]{1,256}'),
            'must be an EventBridge event bus ARN',
          ),
        ),
    ),
    provision: z.optional(z.boolean()),
    source: z.string().check(
      z.minLength(1),
      z.maxLength(256),
      z.refine((source) => !source.startsWith('aws.'), {
        message: 'sources starting with "aws." are reserved for AWS',
      }),
    ),
    detailType: z.string().check(z.minLength(1), z.maxLength(128)),
  })
  .check(
    z.refine(
      existingOrProvisioned('eventBusArn'),
      existingOrProvisionedMessage('eventbridge', 'eventBusArn'),
    ),
  );

/** Longest wait for a webhook's or a function's answer; a consumer delivers a batch's messages one after another. */
const MAX_TARGET_TIMEOUT_SECONDS = 10;

/** A Lambda function invoked synchronously with the envelope. */
export const lambdaTargetSchema = z.strictObject({
  name: targetName,
  type: z.literal('lambda'),
  functionArn: z
    .string()
    .check(
      z.regex(
        arnPattern('lambda', 'function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?'),
        'must be a Lambda function ARN (optionally with a version or alias)',
      ),
    ),
  /**
   * How long one invoke may run before the WAL gives up on this attempt (and retries it later: the
   * function may still finish, so it must dedup by the envelope's id). At most a quarter of the consumer
   * timeout. @default 5
   */
  timeoutSeconds: z.optional(z.number().check(z.gte(1), z.lte(MAX_TARGET_TIMEOUT_SECONDS))),
});

/** Where an HTTP target's signing secret lives: never in the namespace parameter itself. */
const secretReferenceSchema = z.union([
  z.strictObject({
    /** An SSM SecureString parameter name (`/path/to/secret`). */
    ssmParameter: z
      .string()
      .check(z.regex(/^\/[A-Za-z0-9_./-]{1,1010}$/, 'must be an SSM parameter name starting with "/"')),
  }),
  z.strictObject({
    /** A Secrets Manager secret ARN. */
    secretArn: z
      .string()
      .check(
        z.regex(
          arnPattern('secretsmanager', 'secret:[A-Za-z0-9/_+=.@-]{1,512}'),
          'must be a Secrets Manager secret ARN',
        ),
      ),
  }),
]);

/** A webhook: HTTPS (plain HTTP only in local mode), signed with HMAC-SHA256, `Idempotency-Key: <mutation id>`. */
export const httpTargetSchema = z.strictObject({
  name: targetName,
  type: z.literal('http'),
  url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).check(
    z.refine((url) => !/^[a-z]+:\/\/[^/]*@/i.test(url), {
      message: 'must not carry credentials (user:password@): the signature authenticates the WAL',
    }),
  ),
  secret: secretReferenceSchema,
  /** @default 5 */
  timeoutSeconds: z.optional(z.number().check(z.gte(1), z.lte(MAX_TARGET_TIMEOUT_SECONDS))),
});

export const targetSchema = z.discriminatedUnion('type', [
  dynamoDbTargetSchema,
  sqsTargetSchema,
  kinesisTargetSchema,
  snsTargetSchema,
  eventBridgeTargetSchema,
  lambdaTargetSchema,
  httpTargetSchema,
]);

const retrySchema = z
  .strictObject({
    maxAttempts: z._default(z.number().check(z.int(), z.gte(1), z.lte(100)), 8),
    initialBackoffSeconds: z._default(z.number().check(z.gte(0), z.lte(3600)), 2),
    backoffMultiplier: z._default(z.number().check(z.gte(1), z.lte(10)), 2),
    maxBackoffSeconds: z._default(z.number().check(z.gte(0), z.lte(MAX_DELAY_SECONDS)), 900),
    jitter: z._default(z.enum(['full', 'none']), 'full'),
  })
  .check(
    z.refine((retry) => retry.maxBackoffSeconds >= retry.initialBackoffSeconds, {
      message: 'maxBackoffSeconds must be at least initialBackoffSeconds',
    }),
  );

/**
 * Isolation from noisy neighbours: an isolated namespace's delayed and retried mutations wait on queues of
 * its own, drained by their own event source mappings with a concurrency cap, so a retry storm in one
 * namespace neither queues ahead of the others' retries nor takes all of the consumer's concurrency. The
 * DLQ stays shared (one place to watch and redrive). A deploy creates the queues.
 */
const deliverySchema = z
  .strictObject({
    /** @default false */
    isolated: z._default(z.boolean(), false),
    /** With `isolated`: the most concurrent consumer invocations for its queues (Lambda: 2 to 1000). @default - no cap */
    maxConcurrency: z.optional(z.number().check(z.int(), z.gte(2), z.lte(1000))),
    /** Written by the stack for an isolated namespace: its own queue URLs. Never set in config/. */
    queues: z.optional(
      z.strictObject({ delay: z.string().check(z.minLength(1)), retry: z.string().check(z.minLength(1)) }),
    ),
  })
  .check(
    z.refine(
      (delivery) =>
        delivery.isolated || (delivery.maxConcurrency === undefined && delivery.queues === undefined),
      {
        message: '"maxConcurrency" and "queues" apply to an isolated namespace ("isolated": true)',
      },
    ),
  );

export const namespaceConfigSchema = z
  .strictObject({
    name: z
      .string()
      .check(z.regex(NAMESPACE_NAME_PATTERN, 'namespace name must match [a-z0-9][a-z0-9_-]{0,62}')),
    /**
     * The config's revision, raised by whoever changes it (`wal ns set` does): stamped on every envelope, so a
     * receiver and an operator can tell which routing a mutation was accepted under.
     */
    version: z._default(z.number().check(z.int(), z.gte(1)), 1),
    enabled: z._default(z.boolean(), true),
    /**
     * Refuse mutations without an idempotency key (400). Without a key a mutation is at least once: a
     * client that lost the answer can only send it again as a new mutation.
     */
    requireIdempotencyKey: z._default(z.boolean(), false),
    targets: z.array(targetSchema).check(z.minLength(1, 'a namespace needs at least one target')),
    retry: z._default(retrySchema, {
      maxAttempts: 8,
      initialBackoffSeconds: 2,
      backoffMultiplier: 2,
      maxBackoffSeconds: 900,
      jitter: 'full',
    }),
    delay: z._default(
      z.strictObject({
        maxDelaySeconds: z._default(z.number().check(z.int(), z.gte(0), z.lte(MAX_DELAY_SECONDS)), 86_400),
      }),
      { maxDelaySeconds: 86_400 },
    ),
    payload: z._default(
      z.strictObject({
        maxBytes: z._default(z.number().check(z.int(), z.gte(1), z.lte(MAX_PAYLOAD_BYTES)), 65_536),
      }),
      { maxBytes: 65_536 },
    ),
    /**
     * How long ledger entries live. They must outlive every copy of the mutation that may still be
     * routed: the DLQ keeps messages 14 days, and a delayed mutation waits up to maxDelaySeconds.
     */
    retentionDays: z._default(z.number().check(z.int(), z.gte(LEDGER_MIN_RETENTION_DAYS), z.lte(3650)), 30),
    delivery: z._default(deliverySchema, { isolated: false }),
    /**
     * What the WAL records of each mutation's delivery, for GET .../mutations/{id} (lambdas/shared/delivery-status.ts):
     * `failures` (retrying, dead-lettered, held back: no write on the happy path) or `all` (also delayed and applied:
     * one more ledger-table write per mutation and target). @default { track: 'failures' }
     */
    status: z._default(z.strictObject({ track: z._default(z.enum(['failures', 'all']), 'failures') }), {
      track: 'failures',
    }),
  })
  .check(
    z.superRefine((config, ctx) => {
      const neededDays = LEDGER_MIN_RETENTION_DAYS + Math.ceil(config.delay.maxDelaySeconds / 86_400);
      if (config.retentionDays < neededDays) {
        ctx.addIssue({
          code: 'custom',
          path: ['retentionDays'],
          message:
            `must be at least ${neededDays} (the DLQ's 14 days plus the longest delay): a ledger entry that expires ` +
            'before its mutation is delivered lets that mutation be fenced or a retry commit it again',
        });
      }
      const seen = new Set<string>();
      for (const [index, target] of config.targets.entries()) {
        if (seen.has(target.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['targets', index, 'name'],
            message: `target name "${target.name}" is used twice`,
          });
        }
        seen.add(target.name);
      }
    }),
  );

/** A validated namespace config with every default filled in. */
export type NamespaceConfig = z.output<typeof namespaceConfigSchema>;
export type TargetConfig = z.output<typeof targetSchema>;
export type DynamoDbTargetConfig = z.output<typeof dynamoDbTargetSchema>;
export type SqsTargetConfig = z.output<typeof sqsTargetSchema>;
export type KinesisTargetConfig = z.output<typeof kinesisTargetSchema>;
export type SnsTargetConfig = z.output<typeof snsTargetSchema>;
export type EventBridgeTargetConfig = z.output<typeof eventBridgeTargetSchema>;
export type LambdaTargetConfig = z.output<typeof lambdaTargetSchema>;
export type HttpTargetConfig = z.output<typeof httpTargetSchema>;
export type RetryConfig = NamespaceConfig['retry'];

export class InvalidNamespaceConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: string[],
    options?: { cause?: unknown },
  ) {
    super(`Invalid namespace config in ${source}: ${issues.join('; ')}`, options);
    this.name = 'InvalidNamespaceConfigError';
  }
}

/** Formats zod issues as `path: message`, so an error names the bad field. */
function describeIssues(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
}

/**
 * Validates a namespace config. `source` names where it came from (a file, a parameter) so the
 * error tells the operator what to fix.
 */
export function parseNamespaceConfig(value: unknown, source: string): NamespaceConfig {
  const result = namespaceConfigSchema.safeParse(value);
  if (!result.success) {
    throw new InvalidNamespaceConfigError(source, describeIssues(result.error), { cause: result.error });
  }
  return result.data;
}

/** The SSM parameter name that holds a namespace's config. */
export function namespaceParameterName(stage: string, namespace: string): string {
  return `${namespaceParameterPrefix(stage)}${namespace}`;
}

export function namespaceParameterPrefix(stage: string): string {
  return `/wal/${stage}/namespaces/`;
}

/** The resource a target writes to (table, queue URL, ARN, webhook URL), or undefined before the stack provisions it. */
export function targetResource(target: TargetConfig): string | undefined {
  switch (target.type) {
    case 'dynamodb':
      return target.tableName;
    case 'sqs':
      return target.queueUrl;
    case 'kinesis':
      return target.streamArn;
    case 'sns':
      return target.topicArn;
    case 'eventbridge':
      return target.eventBusArn;
    case 'lambda':
      return target.functionArn;
    case 'http':
      return target.url;
  }
}

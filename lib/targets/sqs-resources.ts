import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { SqsTargetConfig } from '#lambdas/shared/namespace-config';
import { QUEUE_MAX_MESSAGE_BYTES } from '#lib/wal-queues';
import type { TargetResourceContext, TargetResources } from './target-resources';

/** What the SQS target does to its queue (lambdas/shared/targets/sqs-target.ts). */
const SQS_TARGET_ACTIONS = ['sqs:SendMessage'] as const;

/** The longest SQS keeps a message: a receiver that is down for days loses nothing to retention. */
const TARGET_QUEUE_RETENTION = Duration.days(14);

/**
 * An SQS target: an existing queue by URL (its ARN derived from the URL for the grant), or one the stack
 * provisions (standard, or FIFO with `fifo: true`) and whose URL it writes into the parameter.
 */
export function sqsTargetResources(target: SqsTargetConfig, context: TargetResourceContext): TargetResources {
  if (target.queueUrl !== undefined) {
    return {
      config: target,
      permissions: [
        { actions: SQS_TARGET_ACTIONS, resourceArns: [queueArnOfUrl(context.scope, target.queueUrl)] },
      ],
    };
  }
  const queue = provisionQueue(target, context);
  return {
    config: { ...target, queueUrl: queue.queueUrl },
    permissions: [{ actions: SQS_TARGET_ACTIONS, resourceArns: [queue.queueArn] }],
    provisioned: queue,
  };
}

function provisionQueue(target: SqsTargetConfig, context: TargetResourceContext): sqs.Queue {
  const fifo = target.fifo === true;
  return new sqs.Queue(context.scope, `Target-${target.name}`, {
    // SQS-managed keys: receivers need no grant on the WAL's KMS key to read it.
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    // Every envelope fits (a user's own queue may still have SQS's 256 KiB default).
    maxMessageSizeBytes: QUEUE_MAX_MESSAGE_BYTES,
    retentionPeriod: TARGET_QUEUE_RETENTION,
    ...(fifo
      ? {
          fifo: true,
          // High-throughput FIFO: the limits apply per message group (a partition key), and dedup ids are
          // mutation ids, which never repeat across groups, so dedup per group loses nothing.
          deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
          fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
        }
      : {}),
    removalPolicy: context.removalPolicy,
  });
}

/**
 * `arn:<partition>:sqs:<region>:<account>:<name>` of a queue URL. The region is read from AWS's host names
 * (`sqs.<region>.amazonaws.com`, legacy `<region>.queue.amazonaws.com`); any other host (a local emulator)
 * is taken to be in the stack's region.
 */
function queueArnOfUrl(scope: Construct, queueUrl: string): string {
  const url = new URL(queueUrl);
  const [account, name] = url.pathname.split('/').filter(Boolean);
  const region =
    /^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1] ??
    /^([a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
  return Stack.of(scope).formatArn({
    service: 'sqs',
    region: region ?? Stack.of(scope).region,
    account,
    resource: name ?? '',
    arnFormat: ArnFormat.NO_RESOURCE_NAME,
  });
}

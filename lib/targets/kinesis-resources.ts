import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type { KinesisTargetConfig } from '#lambdas/shared/namespace-config';
import type { TargetPermission, TargetResourceContext, TargetResources } from './target-resources';

/** What the Kinesis target does to its stream (lambdas/shared/targets/kinesis-target.ts): one record a mutation. */
const KINESIS_TARGET_ACTIONS = ['kinesis:PutRecord'] as const;
/** Putting a record on a stream encrypted with a customer key needs a data key from it. */
const KINESIS_TARGET_KEY_ACTIONS = ['kms:GenerateDataKey'] as const;

/**
 * A Kinesis target: an existing stream by ARN, or one the stack provisions (provisioned mode, `shardCount`
 * shards, encrypted with the WAL's key) and whose ARN it writes into the parameter.
 */
export function kinesisTargetResources(
  target: KinesisTargetConfig,
  context: TargetResourceContext,
): TargetResources {
  if (target.streamArn !== undefined) {
    return {
      config: target,
      permissions: [{ actions: KINESIS_TARGET_ACTIONS, resourceArns: [target.streamArn] }],
    };
  }
  const stream = new kinesis.Stream(context.scope, `Target-${target.name}`, {
    streamMode: kinesis.StreamMode.PROVISIONED,
    shardCount: target.shardCount ?? 1,
    encryption: kinesis.StreamEncryption.KMS,
    encryptionKey: context.encryptionKey,
    removalPolicy: context.removalPolicy,
  });
  const permissions: TargetPermission[] = [
    { actions: KINESIS_TARGET_ACTIONS, resourceArns: [stream.streamArn] },
    { actions: KINESIS_TARGET_KEY_ACTIONS, resourceArns: [context.encryptionKey.keyArn] },
  ];
  return { config: { ...target, streamArn: stream.streamArn }, permissions, provisioned: stream };
}

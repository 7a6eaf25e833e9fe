import * as sns from 'aws-cdk-lib/aws-sns';
import type { SnsTargetConfig } from '#lambdas/shared/namespace-config';
import type { TargetResourceContext, TargetResources } from './target-resources';

/** What the SNS target does (lambdas/shared/targets/sns-target.ts): one Publish per delivery. */
const SNS_TARGET_ACTIONS = ['sns:Publish'] as const;

/**
 * What publishing to a topic encrypted with the stack's key needs besides sns:Publish: SNS makes a data
 * key with the publisher's rights (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
 */
const SNS_ENCRYPTED_PUBLISH_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'] as const;

/**
 * An SNS target: an existing topic by ARN (standard, or FIFO when the ARN ends in `.fifo`), or one the
 * stack provisions (FIFO with `fifo: true`; CDK then generates a name ending in `.fifo`), encrypted at rest
 * with the stack's key.
 */
export function snsTargetResources(target: SnsTargetConfig, context: TargetResourceContext): TargetResources {
  if (target.topicArn !== undefined) {
    return {
      config: target,
      permissions: [{ actions: SNS_TARGET_ACTIONS, resourceArns: [target.topicArn] }],
    };
  }
  const topic = new sns.Topic(context.scope, `Target-${target.name}`, {
    fifo: target.fifo,
    masterKey: context.encryptionKey,
  });
  topic.applyRemovalPolicy(context.removalPolicy);
  return {
    config: { ...target, topicArn: topic.topicArn },
    permissions: [
      { actions: SNS_TARGET_ACTIONS, resourceArns: [topic.topicArn] },
      { actions: SNS_ENCRYPTED_PUBLISH_ACTIONS, resourceArns: [context.encryptionKey.keyArn] },
    ],
    provisioned: topic,
  };
}

import * as events from 'aws-cdk-lib/aws-events';
import type { EventBridgeTargetConfig } from '#lambdas/shared/namespace-config';
import type { TargetResourceContext, TargetResources } from './target-resources';

/** What the EventBridge target does (lambdas/shared/targets/eventbridge-target.ts): PutEvents on its bus. */
const EVENTBRIDGE_TARGET_ACTIONS = ['events:PutEvents'] as const;

/** An EventBridge target: an existing bus by ARN, or a bus the stack provisions (CDK generates its name). */
export function eventBridgeTargetResources(
  target: EventBridgeTargetConfig,
  context: TargetResourceContext,
): TargetResources {
  if (target.eventBusArn !== undefined) {
    return {
      config: target,
      permissions: [{ actions: EVENTBRIDGE_TARGET_ACTIONS, resourceArns: [target.eventBusArn] }],
    };
  }
  const bus = new events.EventBus(context.scope, `Target-${target.name}`);
  bus.applyRemovalPolicy(context.removalPolicy);
  return {
    config: { ...target, eventBusArn: bus.eventBusArn },
    permissions: [{ actions: EVENTBRIDGE_TARGET_ACTIONS, resourceArns: [bus.eventBusArn] }],
    provisioned: bus,
  };
}

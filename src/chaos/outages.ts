import type { CfnTemplate } from '#src/local/runtime/cfn-template';

/**
 * Outages for a chaos run: `--outage target:30` makes the namespace's target table fail every call
 * for 30 s, starting a few seconds into the sending. The fault injector matches them on the SDK
 * command's resource (lambdas/shared/faults.ts `outages`).
 */
export const OUTAGE_RESOURCES = ['target', 'ledger', 'queue', 'delay', 'stream'] as const;
export type OutageResource = (typeof OUTAGE_RESOURCES)[number];

export interface OutageSpec {
  readonly resource: OutageResource;
  readonly seconds: number;
}

/** The fault injector's outage entry. */
export interface OutageWindow {
  readonly resource: string;
  readonly from: number;
  readonly to: number;
}

export class InvalidOutageError extends Error {
  constructor(spec: string, options?: { cause?: unknown }) {
    super(
      `--outage "${spec}" must be <resource>:<seconds>, resource one of ${OUTAGE_RESOURCES.join(', ')}, seconds from 1 to 600`,
      options,
    );
    this.name = 'InvalidOutageError';
  }
}

export class OutageResourceNotFoundError extends Error {
  constructor(resource: OutageResource, options?: { cause?: unknown }) {
    super(`the chaos stack has no resource for outage "${resource}"`, options);
    this.name = 'OutageResourceNotFoundError';
  }
}

export function parseOutage(spec: string): OutageSpec {
  const match = /^([a-z]+):(\d+)$/.exec(spec);
  const resource = OUTAGE_RESOURCES.find((name) => name === match?.[1]);
  const seconds = Number(match?.[2]);
  if (!resource || !Number.isInteger(seconds) || seconds < 1 || seconds > 600)
    throw new InvalidOutageError(spec);
  return { resource, seconds };
}

/** Which template resource each outage name stands for: its type and a logical id pattern. */
const RESOURCE_PATTERNS: Record<OutageResource, { type: string; logicalId: RegExp }> = {
  target: { type: 'AWS::DynamoDB::Table', logicalId: /^Namespaces.*Target/ },
  ledger: { type: 'AWS::DynamoDB::Table', logicalId: /Ledger/ },
  queue: { type: 'AWS::SQS::Queue', logicalId: /RetryQueue/ },
  delay: { type: 'AWS::SQS::Queue', logicalId: /DelayQueue/ },
  stream: { type: 'AWS::Kinesis::Stream', logicalId: /Stream/ },
};

/**
 * The substring of the resource's physical name: its explicit name when the template gives one,
 * else its logical id (local physical names are `<stack>-<logicalId>`).
 */
export function outageResourceName(template: CfnTemplate, resource: OutageResource): string {
  const pattern = RESOURCE_PATTERNS[resource];
  for (const [logicalId, definition] of Object.entries(template.Resources)) {
    if (definition.Type !== pattern.type || !pattern.logicalId.test(logicalId)) continue;
    const properties = definition.Properties ?? {};
    const explicit = properties.QueueName ?? properties.TableName ?? properties.Name;
    return typeof explicit === 'string' ? explicit : logicalId;
  }
  throw new OutageResourceNotFoundError(resource);
}

/** Windows for the injector: each outage starts `startAt` (epoch ms) and lasts its seconds. */
export function outageWindows(
  template: CfnTemplate,
  specs: readonly OutageSpec[],
  startAt: number,
): OutageWindow[] {
  return specs.map((spec) => ({
    resource: outageResourceName(template, spec.resource),
    from: startAt,
    to: startAt + spec.seconds * 1_000,
  }));
}

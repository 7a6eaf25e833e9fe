import { WAL_OUTPUTS, type WalOutputs } from '#lib/wal-outputs';

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

export function parseOutage(spec: string): OutageSpec {
  const match = /^([a-z]+):(\d+)$/.exec(spec);
  const resource = OUTAGE_RESOURCES.find((name) => name === match?.[1]);
  const seconds = Number(match?.[2]);
  if (!resource || !Number.isInteger(seconds) || seconds < 1 || seconds > 600)
    throw new InvalidOutageError(spec);
  return { resource, seconds };
}

/** Where an outage's resource is named: the stack's outputs, and the namespace's target table (its SSM config). */
export interface OutageTargets {
  readonly outputs: WalOutputs;
  readonly targetTable: string;
}

/**
 * What the fault injector matches for the resource: a name or URL its calls carry (a stream's name is
 * part of its ARN too).
 */
export function outageResourceName(targets: OutageTargets, resource: OutageResource): string {
  const names: Record<OutageResource, string> = {
    target: targets.targetTable,
    ledger: targets.outputs[WAL_OUTPUTS.ledgerTableName],
    queue: targets.outputs[WAL_OUTPUTS.retryQueueUrl],
    delay: targets.outputs[WAL_OUTPUTS.delayQueueUrl],
    stream: targets.outputs[WAL_OUTPUTS.streamName],
  };
  return names[resource];
}

/** Windows for the injector: each outage starts `startAt` (epoch ms) and lasts its seconds. */
export function outageWindows(
  targets: OutageTargets,
  specs: readonly OutageSpec[],
  startAt: number,
): OutageWindow[] {
  return specs.map((spec) => ({
    resource: outageResourceName(targets, spec.resource),
    from: startAt,
    to: startAt + spec.seconds * 1_000,
  }));
}

import {
  type NamespaceConfig,
  type ProvisionableType,
  parseNamespaceConfig,
  RESOURCE_FIELDS,
  type TargetConfig,
} from '#lambdas/shared/namespace-config';
import { provisionedResourceField } from '#lib/stage-config';
import { InvalidCurrentConfigError, ProvisionedResourceChangeError } from './errors';
import { lineDiff } from './line-diff';

/** A namespace's parameter as Parameter Store holds it. */
export interface NamespaceParameter {
  readonly namespace: string;
  readonly parameterName: string;
  /** The raw value: normally the JSON the stack wrote, but anyone may have written anything. */
  readonly value: string;
}

/** What `wal ns set|enable|disable` would write: the config, its pretty diff against the current value. */
export interface PlannedChange {
  readonly config: NamespaceConfig;
  /** The current value's `version` (1 when it has none). */
  readonly fromVersion: number;
  /** Empty when nothing but the version would change: then nothing is written. */
  readonly diff: readonly string[];
}

type RawTarget = Readonly<Record<string, unknown>>;

/** The current value, read leniently: an invalid one still has a version and provisioned resources to keep. */
interface CurrentValue {
  readonly config?: NamespaceConfig;
  readonly error?: unknown;
  readonly version: number;
  readonly targets: readonly RawTarget[];
  /** The current `delivery`, read leniently (an isolated namespace's queues live there). */
  readonly delivery: RawTarget;
  /** Pretty JSON (the validated config when valid), or the raw text. */
  readonly pretty: string;
}

function readCurrent(current: NamespaceParameter): CurrentValue {
  let json: unknown;
  try {
    json = JSON.parse(current.value);
  } catch (error) {
    return { error, version: 1, targets: [], delivery: {}, pretty: current.value };
  }
  const record = isRecord(json) ? json : {};
  const version = Number.isInteger(record.version) && (record.version as number) >= 1 ? record.version : 1;
  const targets = Array.isArray(record.targets) ? record.targets.filter(isRecord) : [];
  const delivery = isRecord(record.delivery) ? record.delivery : {};
  try {
    const config = parseNamespaceConfig(json, current.parameterName);
    return { config, version: config.version, targets, delivery, pretty: pretty(config) };
  } catch (error) {
    return { error, version: version as number, targets, delivery, pretty: pretty(json) };
  }
}

/**
 * `wal ns set`: the file's config (validated by the caller as `cdk synth` would), with the resources the stack
 * provisioned kept from the current parameter and the version raised past the current one.
 */
export function planSet(current: NamespaceParameter, file: NamespaceConfig, source: string): PlannedChange {
  const before = readCurrent(current);
  const targets = keepProvisionedResources(file.targets, before.targets, source);
  const version = Math.max(before.version + 1, file.version);
  const delivery = keepDeliveryQueues(file.delivery, before.delivery, source);
  const config = parseNamespaceConfig({ ...file, targets, delivery, version }, source);
  return { config, fromVersion: before.version, diff: diffIgnoringVersion(before, config) };
}

/** `wal ns enable|disable`: the current config with `enabled` set, version + 1. */
export function planToggle(current: NamespaceParameter, enabled: boolean): PlannedChange {
  const before = readCurrent(current);
  if (!before.config) throw new InvalidCurrentConfigError(current.parameterName, { cause: before.error });
  const config = { ...before.config, enabled, version: before.version + 1 };
  return { config, fromVersion: before.version, diff: diffIgnoringVersion(before, config) };
}

/**
 * An isolated namespace's own queues exist only through a deploy: `set` keeps the queue URLs the stack wrote,
 * and refuses to turn isolation on or off (its queues, their mappings and grants come and go with a deploy;
 * without them, delayed and retried mutations would wait on queues nobody drains).
 */
function keepDeliveryQueues(
  delivery: NamespaceConfig['delivery'],
  current: RawTarget,
  source: string,
): NamespaceConfig['delivery'] {
  const wasIsolated = current.isolated === true;
  if (delivery.isolated !== wasIsolated) {
    throw new ProvisionedResourceChangeError(source, [
      `delivery.isolated is ${String(wasIsolated)} in the parameter and ${String(delivery.isolated)} in the file: ` +
        "an isolated namespace's own queues are created and removed by a deploy",
    ]);
  }
  if (!wasIsolated) return delivery;
  if (delivery.queues !== undefined && JSON.stringify(delivery.queues) !== JSON.stringify(current.queues)) {
    throw new ProvisionedResourceChangeError(source, [
      'delivery.queues: the stack wrote these queue URLs; leave "queues" out of the file',
    ]);
  }
  return { ...delivery, queues: current.queues as NamespaceConfig['delivery']['queues'] };
}

/** The diff, empty when only the version differs (a write would change nothing but the stamp). */
function diffIgnoringVersion(before: CurrentValue, after: NamespaceConfig): string[] {
  const unchanged =
    before.config && pretty({ ...before.config, version: 0 }) === pretty({ ...after, version: 0 });
  return unchanged ? [] : lineDiff(before.pretty, pretty(after));
}

/**
 * A provisioned target (`provision: true`) names its resource only in the parameter (the stack wrote it; the
 * file in config/ has none): it is taken from there. Refused: a target the stack provisioned that the file
 * turns into another type or an existing resource, or gives another resource; `provision: true` for a target
 * the stack has not provisioned (nothing would create it).
 */
function keepProvisionedResources(
  targets: readonly TargetConfig[],
  currentTargets: readonly RawTarget[],
  source: string,
): TargetConfig[] {
  const issues: string[] = [];
  const kept = targets.map((target) => {
    const current = currentTargets.find((candidate) => candidate.name === target.name);
    const { kept, issue } = keepResource(target, current);
    if (issue) issues.push(issue);
    return kept;
  });
  if (issues.length > 0) throw new ProvisionedResourceChangeError(source, issues);
  return kept;
}

/** One target of the file against the current parameter's target of the same name. */
function keepResource(
  target: TargetConfig,
  current: RawTarget | undefined,
): { kept: TargetConfig; issue?: string } {
  const provisioned = current && provisionedResource(current);
  const field = provisionedResourceField(target);
  if (!provisioned) {
    if (field === undefined) return { kept: target };
    return {
      kept: target,
      issue: `target "${target.name}" asks for "provision": true, but the stack has provisioned no ${target.type} for it`,
    };
  }
  const type = String(current?.type);
  if (target.type !== type || field === undefined) {
    return {
      kept: target,
      issue:
        `target "${target.name}" is the ${type} the stack provisioned (${provisioned.field} ` +
        `${provisioned.resource}): it must stay "type": "${type}" with "provision": true`,
    };
  }
  const fileValue = (target as Record<string, unknown>)[field];
  if (fileValue !== undefined && fileValue !== provisioned.resource) {
    return {
      kept: target,
      issue:
        `target "${target.name}": "${field}" is ${provisioned.resource}, provisioned by the stack; the file ` +
        `sets ${String(fileValue)} (leave "${field}" out)`,
    };
  }
  return { kept: { ...target, [field]: provisioned.resource } as TargetConfig };
}

/** The resource the stack provisioned for a target of the current parameter, if it is one. */
function provisionedResource(target: RawTarget): { field: string; resource: string } | undefined {
  if (target.provision !== true || typeof target.type !== 'string' || !(target.type in RESOURCE_FIELDS)) {
    return undefined;
  }
  const field = RESOURCE_FIELDS[target.type as ProvisionableType];
  const resource = target[field];
  return typeof resource === 'string' ? { field, resource } : undefined;
}

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

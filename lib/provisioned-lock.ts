import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type NamespaceConfig,
  type ProvisionableType,
  RESOURCE_FIELDS,
} from '#lambdas/shared/namespace-config';

/**
 * The lock file of a stage: `config/<stage>/provisioned.lock.json`. A namespace name has no dot, so the file is
 * never read as a namespace.
 */
export const PROVISIONED_LOCK_FILE = 'provisioned.lock.json';
/** The lock entry of an isolated namespace's own queues: `<namespace>/@delivery-queues`. */
const ISOLATED_QUEUES_ENTRY = '@delivery-queues';
/** Context key: `-c wal:allowReplace=<namespace>/<target>[,<namespace>/<target>...]`. */
export const ALLOW_REPLACE_CONTEXT = 'wal:allowReplace';
/** Context key: `-c wal:updateLock=true` writes the lock from the config (after the replacement check). */
export const UPDATE_LOCK_CONTEXT = 'wal:updateLock';

/**
 * What a provisioned target's resource cannot change without being replaced (its data lost): its type, and for
 * a table its key schema, for a queue or topic whether it is FIFO.
 */
type LockEntry = Readonly<Record<string, unknown>>;

interface LockFile {
  readonly version: 1;
  /** By `<namespace>/<target>`, sorted. */
  readonly provisioned: Readonly<Record<string, LockEntry>>;
}

/** A change of the config would replace provisioned targets (and lose their data), and nobody allowed it. */
export class ProvisionedTargetReplacementError extends Error {
  constructor(
    readonly stage: string,
    readonly changes: readonly string[],
    options?: { cause?: unknown },
  ) {
    const ids = changes.map((change) => change.split(':')[0]).join(',');
    super(
      `Stage "${stage}": this config would replace provisioned targets, deleting their data: ${changes.join('; ')}. ` +
        `Undo the change, or allow it explicitly with -c ${ALLOW_REPLACE_CONTEXT}=${ids} ` +
        `(and -c ${UPDATE_LOCK_CONTEXT}=true to record it in config/${stage}/${PROVISIONED_LOCK_FILE}).`,
      options,
    );
    this.name = 'ProvisionedTargetReplacementError';
  }
}

/** The stage's lock file is missing or does not list what the config provisions. */
export class ProvisionedLockOutdatedError extends Error {
  constructor(
    readonly file: string,
    readonly differences: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `${file} does not match the provisioned targets of the config (${differences.join('; ')}). ` +
        `Run the synth with -c ${UPDATE_LOCK_CONTEXT}=true to write it, review and commit it.`,
      options,
    );
    this.name = 'ProvisionedLockOutdatedError';
  }
}

/** The lock entries the namespaces' config asks for: one per provisioned target. */
export function provisionedEntries(namespaces: readonly NamespaceConfig[]): Record<string, LockEntry> {
  const entries: Record<string, LockEntry> = {};
  for (const namespace of namespaces) {
    for (const target of namespace.targets) {
      if (!(target.type in RESOURCE_FIELDS) || !('provision' in target) || target.provision !== true)
        continue;
      const settings = target as unknown as Record<string, unknown>;
      entries[`${namespace.name}/${target.name}`] = {
        type: target.type as ProvisionableType,
        ...(settings.key === undefined
          ? {}
          : { key: normalizedKey(settings.key as Record<string, unknown>) }),
        ...(settings.fifo === undefined ? {} : { fifo: settings.fifo }),
      };
    }
    // An isolated namespace's own delay and retry queues hold its waiting mutations: ending the isolation
    // removes their mappings, and what waits on them would never be delivered. "@" cannot start a target name.
    if (namespace.delivery.isolated) entries[`${namespace.name}/${ISOLATED_QUEUES_ENTRY}`] = { type: 'sqs' };
  }
  return Object.fromEntries(Object.entries(entries).sort(([a], [b]) => a.localeCompare(b)));
}

/** A DynamoDB key with its defaults spelled out: a key type left out is a string. */
function normalizedKey(key: Record<string, unknown>): Record<string, unknown> {
  return {
    partitionKey: key.partitionKey,
    partitionKeyType: key.partitionKeyType ?? 'string',
    ...(key.sortKey === undefined ? {} : { sortKey: key.sortKey, sortKeyType: key.sortKeyType ?? 'string' }),
  };
}

export interface LockCheckOptions {
  readonly stage: string;
  /** The stage's folder: where the lock file is. */
  readonly directory: string;
  readonly namespaces: readonly NamespaceConfig[];
  /** `<namespace>/<target>` ids whose replacement or removal is allowed. */
  readonly allowReplace: readonly string[];
  /** Write the lock from the config once the check passed. */
  readonly updateLock: boolean;
}

/**
 * Compares what the config provisions with the stage's lock file (what was deployed): a provisioned target that is
 * gone (removed or renamed) or whose resource would be replaced fails, unless allowed; the lock must list exactly
 * the config's provisioned targets, or be rewritten with `updateLock`.
 */
export function checkProvisionedLock(options: LockCheckOptions): void {
  const file = path.join(options.directory, PROVISIONED_LOCK_FILE);
  const wanted = provisionedEntries(options.namespaces);
  const locked = readLock(file);
  const replaced = Object.entries(locked ?? {}).flatMap(([id, entry]) => {
    const now = wanted[id];
    if (now === undefined) return [`${id}: removed or renamed`];
    if (JSON.stringify(now) !== JSON.stringify(entry)) {
      return [`${id}: ${JSON.stringify(entry)} becomes ${JSON.stringify(now)}`];
    }
    return [];
  });
  const refused = replaced.filter((change) => !options.allowReplace.includes(change.split(':')[0] ?? ''));
  if (refused.length > 0) throw new ProvisionedTargetReplacementError(options.stage, refused);
  if (options.updateLock) {
    const lock: LockFile = { version: 1, provisioned: wanted };
    fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
    return;
  }
  const added = Object.keys(wanted).filter((id) => locked?.[id] === undefined);
  const differences = [...added.map((id) => `${id}: new`), ...replaced];
  if (differences.length > 0) throw new ProvisionedLockOutdatedError(file, differences);
}

function readLock(file: string): Record<string, LockEntry> | undefined {
  if (!fs.existsSync(file)) return undefined;
  const lock = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockFile>;
  return lock.provisioned ?? {};
}

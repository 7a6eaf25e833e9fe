import {
  InvalidNamespaceConfigError,
  type NamespaceConfig,
  parseNamespaceConfig,
  targetResource,
} from '#lambdas/shared/namespace-config';
import { PROVISIONED_LOCK_FILE } from '#lib/provisioned-lock';
import {
  checkNamespaceForStage,
  loadNamespaceFile,
  NamespaceConfigSyntaxError,
  NamespaceFileNameMismatchError,
  readNamespaceFile,
  stageSettings,
} from '#lib/stage-config';
import { UsageError } from '#src/cli/usage-error';
import { type NamespaceParameter, type PlannedChange, planSet, planToggle } from './ns/change';
import { NamespaceFileMismatchError } from './ns/errors';
import {
  connectNamespaceParameters,
  type NamespaceParameterStore,
  type NsConnectionOptions,
} from './ns/parameters';

export * from './ns/change';
export * from './ns/errors';
export * from './ns/line-diff';
export * from './ns/parameters';

const NS_SUBCOMMANDS = ['validate', 'list', 'get', 'set', 'enable', 'disable'] as const;

/** Mistakes in a namespace file that the command reports, one file at a time, without stopping. */
const CONFIG_ERRORS = [
  InvalidNamespaceConfigError,
  NamespaceConfigSyntaxError,
  NamespaceFileNameMismatchError,
];

/**
 * `wal ns validate <file...>`: checks each `<namespace>.json` as `cdk synth` does (JSON syntax, the
 * namespace schema with a path for each mistake, file name = namespace name, tableName or provision).
 * Prints one line per file; 0 if every file is valid, 1 if any is not.
 */
export function validateNamespaceFiles(files: readonly string[], print: (line: string) => void): number {
  if (files.length === 0) throw new UsageError('usage: wal ns validate <namespace.json> [more.json ...]');
  let invalid = 0;
  for (const file of files) {
    // `wal ns validate config/prod/*.json` also names the stage's lock file, which is no namespace.
    if (file.endsWith(`/${PROVISIONED_LOCK_FILE}`) || file === PROVISIONED_LOCK_FILE) {
      print(`skipped: ${file}: the stage's lock of provisioned targets, not a namespace`);
      continue;
    }
    try {
      const { config } = loadNamespaceFile(file);
      const targets = config.targets.map((target) => `${target.name} (${target.type})`).join(', ');
      print(`valid: ${file}: namespace "${config.name}", targets ${targets}`);
    } catch (error) {
      invalid++;
      print(`invalid: ${describeFailure(file, error)}`);
    }
  }
  return invalid === 0 ? 0 : 1;
}

function describeFailure(file: string, error: unknown): string {
  if (CONFIG_ERRORS.some((errorClass) => error instanceof errorClass)) return (error as Error).message;
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') return `${file}: cannot be read (${code})`;
  throw error;
}

/** `wal ns` flags, as parsed. */
export interface NsCommandOptions extends NsConnectionOptions {
  /** `set --file F`. */
  readonly file?: string;
  /** `set --dry-run`: show the diff, write nothing. */
  readonly dryRun?: boolean;
}

type Print = (line: string) => void;

/** Runs `wal ns <subcommand>`; the exit code. */
export async function runNsCommand(
  subcommand: string | undefined,
  args: readonly string[],
  options: NsCommandOptions,
  print: Print,
): Promise<number> {
  if (subcommand === 'validate') return validateNamespaceFiles(args, print);
  if (!NS_SUBCOMMANDS.some((known) => known === subcommand)) {
    throw new UsageError(
      `Unknown "wal ns" subcommand "${subcommand ?? ''}": the subcommands are ${NS_SUBCOMMANDS.join(', ')}.`,
    );
  }
  const [name] = args;
  if (subcommand !== 'list' && !name) throw new UsageError(`usage: wal ns ${subcommand} <namespace>`);
  if (subcommand === 'set' && !options.file)
    throw new UsageError('usage: wal ns set <namespace> --file <namespace>.json');
  const store = connectNamespaceParameters(options);
  try {
    if (subcommand === 'list') return await listNamespaces(store, print);
    if (subcommand === 'get') return await showNamespace(store, name as string, print);
    const current = await store.get(name as string);
    const plan =
      subcommand === 'set'
        ? planSet(
            current,
            readFileFor(store.stage, current.namespace, options.file as string),
            options.file as string,
          )
        : planToggle(current, subcommand === 'enable');
    return await applyChange(store, current, plan, options.dryRun === true, print);
  } finally {
    store.destroy();
  }
}

/**
 * The file's config, checked as `cdk synth` checks config/<stage>/ (a provisioned target may carry the stack's
 * value): the schema, the file name, and the stage's rules (https webhooks outside local, retention, timeouts).
 */
function readFileFor(stage: string, namespace: string, file: string): NamespaceConfig {
  const loaded = readNamespaceFile(file);
  if (loaded.config.name !== namespace)
    throw new NamespaceFileMismatchError(namespace, file, loaded.config.name);
  checkNamespaceForStage(stage, loaded, stageSettings(stage));
  return loaded.config;
}

/** `wal ns list`: one line per namespace (name, enabled, version, targets with their type and resource). */
async function listNamespaces(store: NamespaceParameterStore, print: Print): Promise<number> {
  const parameters = await store.list();
  if (parameters.length === 0) print(`no namespace in stage "${store.stage}" (${describeWhere(store)})`);
  for (const parameter of parameters) print(describeNamespace(parameter));
  return 0;
}

function describeNamespace(parameter: NamespaceParameter): string {
  let config: NamespaceConfig;
  try {
    config = parseNamespaceConfig(JSON.parse(parameter.value), parameter.parameterName);
  } catch (error) {
    return `${parameter.namespace}  INVALID: ${error instanceof Error ? error.message : String(error)}`;
  }
  const targets = config.targets
    .map((target) => `${target.name} (${target.type} ${targetResource(target) ?? 'not provisioned'})`)
    .join(', ');
  return `${config.name}  ${config.enabled ? 'enabled' : 'DISABLED'}  version ${config.version}  ${targets}`;
}

/** `wal ns get`: the parameter's JSON, pretty (as stored when it is not JSON). */
async function showNamespace(
  store: NamespaceParameterStore,
  namespace: string,
  print: Print,
): Promise<number> {
  const { value } = await store.get(namespace);
  try {
    print(JSON.stringify(JSON.parse(value), null, 2));
  } catch {
    print(value);
  }
  return 0;
}

async function applyChange(
  store: NamespaceParameterStore,
  current: NamespaceParameter,
  plan: PlannedChange,
  dryRun: boolean,
  print: Print,
): Promise<number> {
  const { namespace, parameterName } = current;
  if (plan.diff.length === 0) {
    print(`namespace "${namespace}" is unchanged (version ${plan.fromVersion}): nothing written.`);
    return 0;
  }
  print(
    `namespace "${namespace}" (${parameterName}, ${describeWhere(store)}): version ${plan.fromVersion} -> ${plan.config.version}`,
  );
  for (const line of plan.diff) print(line);
  if (store.deployed) {
    print(
      `warning: CloudFormation owns ${parameterName}: the next "cdk deploy" of stage ${store.stage} writes ` +
        `config/${store.stage}/${namespace}.json over this change. Make the same change there.`,
    );
  } else {
    print(
      `note: "wal local" writes config/${store.stage}/${namespace}.json over this change when it starts again.`,
    );
  }
  if (dryRun) {
    print('dry run: nothing written.');
    return 0;
  }
  const parameterVersion = await store.put({ ...current, value: JSON.stringify(plan.config) });
  print(
    `written: version ${plan.config.version} of namespace "${namespace}" (parameter version ${parameterVersion ?? '?'}). ` +
      "The functions use it once their cached copy is older than the stage's config max age.",
  );
  return 0;
}

function describeWhere(store: NamespaceParameterStore): string {
  return store.deployed ? 'AWS' : `local SSM ${store.where}`;
}

import { InvalidNamespaceConfigError } from '#lambdas/shared/namespace-config';
import { PROVISIONED_LOCK_FILE } from '#lib/provisioned-lock';
import {
  loadNamespaceFile,
  NamespaceConfigSyntaxError,
  NamespaceFileNameMismatchError,
} from '#lib/stage-config';
import { UsageError } from '#src/cli/usage-error';

const NS_SUBCOMMANDS = ['validate'] as const;

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
function validateNamespaceFiles(files: readonly string[], print: (line: string) => void): number {
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

/** Runs `wal ns <subcommand>`. */
export function runNsCommand(
  subcommand: string | undefined,
  files: readonly string[],
  print: (line: string) => void,
): number {
  if (subcommand === 'validate') return validateNamespaceFiles(files, print);
  throw new UsageError(
    `Unknown "wal ns" subcommand "${subcommand ?? ''}": the subcommands are ${NS_SUBCOMMANDS.join(', ')}.`,
  );
}

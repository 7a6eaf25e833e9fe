import { UsageError } from './usage-error';

/**
 * Runs a command-line tool's main: its result is the exit code; a failure is printed as one line and
 * exits with `failureCode`, or `usageCode` for a UsageError or a node:util parseArgs error.
 */
export function runTool(
  main: () => Promise<number>,
  codes: { failure: number; usage: number } = { failure: 2, usage: 2 },
): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const isUsage =
        error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
      console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      process.exitCode = isUsage ? codes.usage : codes.failure;
    },
  );
}

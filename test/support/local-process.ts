import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './wait';

const REPO_ROOT = join(__dirname, '..', '..');

/** `wal local` as a child process in its own process group, on free ports; its output is collected. */
export interface LocalProcess {
  readonly child: ChildProcess;
  readonly output: string[];
  /** The process group (the child's pid): signals to it reach npm, tsx and node alike. */
  readonly group: number;
}

const FREE_PORTS = [
  '--port',
  '0',
  '--dynamodb-port',
  '0',
  '--kinesis-port',
  '0',
  '--sqs-port',
  '0',
  '--ssm-port',
  '0',
  '--sinks-port',
  '0',
];

/** `npm start -- <args>` (the README's quick start) on free ports. */
export function spawnNpmStart(args: string[]): LocalProcess {
  return spawnGroup('npm', ['start', '--', ...args, ...FREE_PORTS]);
}

/** `wal local <args>` through tsx directly (no npm in between: quicker, same runtime). */
export function spawnWalLocal(args: string[]): LocalProcess {
  return spawnGroup(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [
    'src/cli/wal.ts',
    'local',
    ...args,
    ...FREE_PORTS,
  ]);
}

function spawnGroup(command: string, args: string[]): LocalProcess {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  return { child, output, group: child.pid as number };
}

/** Reads the child's output until a line matches, or fails after the timeout with what it printed. */
export function waitForLine(
  { child, output }: LocalProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.stdout?.off('data', check);
      reject(new Error(`no line matching ${pattern} in:\n${output.join('')}`));
    }, timeoutMs);
    function check() {
      for (const line of output.join('').split('\n')) {
        const match = pattern.exec(line);
        if (match) {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          resolve(match);
          return;
        }
      }
    }
    child.stdout?.on('data', check);
    check();
  });
}

export function isGroupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills the whole group with SIGKILL (a crash: nothing gets to clean up) and waits until it is gone. */
export async function killGroup(process_: LocalProcess): Promise<void> {
  if (!isGroupAlive(process_.group)) return;
  process.kill(-process_.group, 'SIGKILL');
  await waitFor(async () => (isGroupAlive(process_.group) ? undefined : true), 10_000);
}

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    cause?: unknown,
  ) {
    super(
      `The data directory ${dataDir} is in use by process ${pid}: stop those emulators first, or pass another data directory.`,
      { cause },
    );
    this.name = 'DataDirInUseError';
  }
}

/**
 * Takes `<dataDir>/emulators.lock` for this process. A second user of the same LevelDB files would
 * not fail at start: dynalite crashes the process on its first request instead. A lock left by a
 * process that is gone is taken over. Returns the function that releases the lock.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'emulators.lock');
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readHolder(path);
      if (isAlive(holder)) throw new DataDirInUseError(dataDir, holder, err);
      rmSync(path, { force: true });
    }
  }
}

/** The pid in the lock file; 0 when it vanished meanwhile (its holder released it). */
function readHolder(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8'));
  } catch {
    return 0;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

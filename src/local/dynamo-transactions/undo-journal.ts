import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { restore, type UndoEntry, type UndoLog } from './transact-write';
import type { DynamoCall } from './wire';

/**
 * The undo journal of the transaction being applied, in the data dir: written (atomically, flushed) before the
 * first write, removed after the last. A file left behind means the process died mid-transaction, or putting the
 * snapshots back failed: the next transaction rolls it back before it begins (and fails if that fails again).
 */
export function undoJournal(path: string): UndoLog {
  return {
    recover: async (call) => {
      await rollBackInterrupted(call, path);
    },
    begin: (entries) => {
      writeFileSync(`${path}.tmp`, JSON.stringify(entries), { flush: true });
      renameSync(`${path}.tmp`, path);
    },
    end: () => rmSync(path, { force: true }),
  };
}

/** Rolls back the transaction a crash interrupted (if any): puts its items back as they were before it. */
export async function rollBackInterrupted(call: DynamoCall, path: string): Promise<boolean> {
  rmSync(`${path}.tmp`, { force: true });
  if (!existsSync(path)) return false;
  await restore(call, JSON.parse(readFileSync(path, 'utf8')) as UndoEntry[]);
  rmSync(path, { force: true });
  return true;
}

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { JournalEntry } from './sqs-model';

/** A line in the middle of the journal is damaged: replaying around it could resurrect or lose messages. */
export class SqsJournalCorruptError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    cause?: unknown,
  ) {
    super(
      `The SQS journal ${path} is damaged at line ${line}. Move the file away to start with empty queues ` +
        '(their messages are then lost), or restore it from a backup.',
      { cause },
    );
    this.name = 'SqsJournalCorruptError';
  }
}

/** Writing or syncing the journal failed: the change it carried is not durable, so it is not acknowledged. */
export class SqsJournalWriteError extends Error {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(
      `Cannot write the SQS journal ${path}: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        'The local SQS refuses further changes until it is restarted.',
      { cause },
    );
    this.name = 'SqsJournalWriteError';
  }
}

/**
 * An append-only file of SQS state changes, one `<crc32 hex> <json>\n` line each. Appends are
 * synchronous, so a change is on disk before the emulator method that made it returns (and so
 * before any HTTP answer that depends on it). Only the last line can be torn by a crash (it was
 * never acknowledged): replay drops it. A bad line before the last one is corruption, not a crash.
 */
export class JournalFile {
  private fd: number | undefined;
  private failed: unknown;
  private unsynced = false;
  /** Lines appended since the file was last rewritten as a snapshot. */
  appendedSinceCompaction = 0;

  constructor(readonly path: string) {}

  /** The entries on disk, in order; a torn last line is left out. */
  read(): JournalEntry[] {
    if (!existsSync(this.path)) return [];
    const text = readFileSync(this.path, 'utf8');
    const lines = text.split('\n');
    // A complete file ends with "\n": the last element is then empty.
    const last = lines.pop() ?? '';
    const entries: JournalEntry[] = [];
    lines.forEach((line, index) => {
      const entry = parseLine(line);
      if (entry) entries.push(entry);
      else if (index === lines.length - 1 && last === '') {
        // The last complete-looking line may still be torn (crash between write and fsync).
        return;
      } else throw new SqsJournalCorruptError(this.path, index + 1);
    });
    // `last` is a line without its newline: a write the crash cut short; it was never acknowledged.
    return entries;
  }

  /**
   * Replaces the file with these entries (write a temporary file, fsync, rename, fsync the
   * directory), so a crash leaves either the old journal or the new one, never a mix.
   */
  rewrite(entries: Iterable<JournalEntry>): void {
    this.closeFd();
    const temporary = `${this.path}.tmp`;
    const fd = openSync(temporary, 'w');
    try {
      let chunk = '';
      for (const entry of entries) {
        chunk += formatLine(entry);
        if (chunk.length > 1 << 20) {
          writeSync(fd, chunk);
          chunk = '';
        }
      }
      if (chunk) writeSync(fd, chunk);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
    syncDirectory(dirname(this.path));
    this.appendedSinceCompaction = 0;
  }

  /**
   * Appends an entry. `sync: false` leaves it to the next synced append (or close): for changes
   * whose loss in a crash only costs an extra delivery, never a message.
   */
  append(entry: JournalEntry, sync = true): void {
    if (this.failed !== undefined) throw new SqsJournalWriteError(this.path, this.failed);
    try {
      this.fd ??= openSync(this.path, 'a');
      writeSync(this.fd, formatLine(entry));
      this.appendedSinceCompaction += 1;
      if (sync) {
        fsyncSync(this.fd);
        this.unsynced = false;
      } else this.unsynced = true;
    } catch (error) {
      // Fail-stop: a later line after a half-written one would turn a torn tail into corruption.
      this.failed = error;
      throw new SqsJournalWriteError(this.path, error);
    }
  }

  close(): void {
    if (this.fd !== undefined && this.unsynced && this.failed === undefined) fsyncSync(this.fd);
    this.closeFd();
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    this.unsynced = false;
  }
}

function formatLine(entry: JournalEntry): string {
  const json = JSON.stringify(entry);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

function parseLine(line: string): JournalEntry | undefined {
  const space = line.indexOf(' ');
  if (space !== 8) return undefined;
  const json = line.slice(space + 1);
  if (crc32(json).toString(16).padStart(8, '0') !== line.slice(0, space)) return undefined;
  try {
    return JSON.parse(json) as JournalEntry;
  } catch {
    return undefined;
  }
}

/** Makes a rename durable: on Linux the new directory entry is only safe once the directory is synced. */
function syncDirectory(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot open or sync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

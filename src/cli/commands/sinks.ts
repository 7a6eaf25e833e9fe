import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSinkJournal, SINKS_JOURNAL_FILE, type SinkRecord } from '#src/local/sinks/sink-journal';

export interface SinksCommandOptions {
  /** The data dir of `wal local`, which holds the sinks' journal. */
  readonly dataDir: string;
  /** Only resources whose ARN or name contains it, or messages whose envelope names this WAL target. */
  readonly target?: string;
  /** Messages shown per resource, newest last. @default 3 */
  readonly last?: number;
}

function envelopeTarget(record: SinkRecord): string | undefined {
  const message = record.message;
  if (typeof message !== 'object' || message === null) return undefined;
  const target = (message as { target?: unknown }).target;
  return typeof target === 'string' ? target : undefined;
}

/**
 * `wal sinks`: what the local SNS, EventBridge and Lambda sinks received, per resource: the count and the
 * last few messages. Reads the journal in the data dir (`wal local` keeps one unless --in-memory).
 * Returns the exit code: 1 when there is no journal.
 */
export function runSinksCommand(options: SinksCommandOptions, print: (line: string) => void): number {
  const file = join(options.dataDir, SINKS_JOURNAL_FILE);
  if (!existsSync(file)) {
    print(`No sinks journal at ${file}: "wal local" keeps one in its data dir (not with --in-memory).`);
    return 1;
  }
  const filter = options.target;
  const byResource = groupByResource(readSinkJournal(file), filter);
  if (byResource.size === 0) {
    print(
      filter === undefined
        ? 'The sinks received nothing yet.'
        : `The sinks received nothing for "${filter}".`,
    );
    return 0;
  }
  const last = options.last ?? 3;
  for (const [resource, records] of byResource) {
    print(
      `${resource} (${records[0]?.service}): ${records.length} message${records.length === 1 ? '' : 's'}`,
    );
    for (const record of records.slice(-last)) print(`  ${describeRecord(record)}`);
  }
  return 0;
}

/** Records per resource, in journal order, keeping those that match `filter` (all without one). */
function groupByResource(records: SinkRecord[], filter: string | undefined): Map<string, SinkRecord[]> {
  const byResource = new Map<string, SinkRecord[]>();
  for (const record of records) {
    if (filter !== undefined && !record.resource.includes(filter) && envelopeTarget(record) !== filter)
      continue;
    byResource.set(record.resource, [...(byResource.get(record.resource) ?? []), record]);
  }
  return byResource;
}

function describeRecord(record: SinkRecord): string {
  const attributes = Object.keys(record.attributes).length > 0 ? ` ${JSON.stringify(record.attributes)}` : '';
  return `${record.receivedAt}${attributes} ${JSON.stringify(record.message)}`;
}

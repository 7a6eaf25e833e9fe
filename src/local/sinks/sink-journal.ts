import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The sinks' journal in a data dir: one received message a line. */
export const SINKS_JOURNAL_FILE = 'sinks.jsonl';

export type SinkService = 'sns' | 'eventbridge' | 'lambda';

/** One message a sink accepted. */
export interface SinkRecord {
  readonly service: SinkService;
  /** The topic ARN, the bus name or ARN, or the function name or ARN, as the caller named it. */
  readonly resource: string;
  readonly receivedAt: string;
  /** The message (SNS), the event's detail (EventBridge) or the event (Lambda): JSON parsed, else the text. */
  readonly message: unknown;
  /** What came with it: FIFO group and dedup ids, the event's source and detail-type. */
  readonly attributes: Readonly<Record<string, string>>;
}

/**
 * How a sink fails a call (tests program it): `transient` is a failure worth retrying that the SDK does
 * not retry itself where the service has one (an EventBridge entry's InternalFailure, a function error;
 * SNS: a 500), `throttle` the service's throttling answer, `permanent` what retrying cannot fix (SNS
 * NotFound, an entry's AccessDeniedException, a function's PermanentError).
 */
export type SinkFailureKind = 'transient' | 'throttle' | 'permanent';

/** What the sinks received, per resource, and the failures tests asked for. */
export class SinkJournal {
  private readonly records = new Map<string, SinkRecord[]>();
  private readonly failures = new Map<string, { kind: SinkFailureKind; left: number }>();
  private readonly failed = new Map<string, number>();
  private readonly file: string | undefined;

  /** With a data dir, records are appended to its journal and the ones there are read back. */
  constructor(dataDir?: string) {
    this.file = dataDir && join(dataDir, SINKS_JOURNAL_FILE);
    for (const record of this.file ? readSinkJournal(this.file) : []) this.remember(record);
  }

  add(record: SinkRecord): void {
    if (this.file) appendFileSync(this.file, `${JSON.stringify(record)}\n`);
    this.remember(record);
  }

  /** Every message `resource` received, oldest first. */
  received(resource: string): readonly SinkRecord[] {
    return this.records.get(resource) ?? [];
  }

  /** Messages per resource. */
  all(): ReadonlyMap<string, readonly SinkRecord[]> {
    return this.records;
  }

  /** Fails the next `count` calls naming `resource`. */
  failNext(resource: string, count: number, kind: SinkFailureKind): void {
    this.failures.set(resource, { kind, left: count });
  }

  /** How many calls naming `resource` were failed on purpose. */
  failedCalls(resource: string): number {
    return this.failed.get(resource) ?? 0;
  }

  /** The failure this call of `resource` gets, if tests asked for one. */
  takeFailure(resource: string): SinkFailureKind | undefined {
    const plan = this.failures.get(resource);
    if (!plan || plan.left <= 0) return undefined;
    plan.left -= 1;
    this.failed.set(resource, this.failedCalls(resource) + 1);
    return plan.kind;
  }

  private remember(record: SinkRecord): void {
    const list = this.records.get(record.resource) ?? [];
    list.push(record);
    this.records.set(record.resource, list);
  }
}

/** The records of a sinks journal file (none when it does not exist); a torn last line is skipped. */
export function readSinkJournal(file: string): SinkRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line) => {
      if (line.trim() === '') return [];
      try {
        return [JSON.parse(line) as SinkRecord];
      } catch {
        // A crash mid-append leaves a partial line: that message was never acknowledged.
        return [];
      }
    });
}

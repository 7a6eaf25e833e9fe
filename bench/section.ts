/**
 * One part of `npm run bench`: it measures its figures, each next to a baseline from the same run, and gives
 * back its lines of the table and its part of the JSON result (top-level keys such as `ingest` or `cost`).
 */
export interface BenchContext {
  /** How many times to repeat a measurement whose median is reported. */
  readonly runs: number;
  /** Prints one progress line (`bench: <step>...`). */
  readonly progress: (step: string) => void;
}

export interface SectionResult {
  /** Lines of the table, with a header line first. */
  readonly table: readonly string[];
  /** Merged into the JSON result; each section owns its top-level keys. */
  readonly json: Readonly<Record<string, unknown>>;
}

export interface BenchSection {
  readonly name: string;
  readonly run: (context: BenchContext) => Promise<SectionResult>;
}

/** `value / baseline`, rounded to two decimals. */
export function ratio(value: number, baseline: number): number {
  return Math.round((value / baseline) * 100) / 100;
}

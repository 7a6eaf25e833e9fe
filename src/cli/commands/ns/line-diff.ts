/** Unchanged lines shown around each change. */
const CONTEXT_LINES = 2;

type DiffLine = { readonly kind: ' ' | '-' | '+'; readonly text: string };

/**
 * A compact line diff of two texts (pretty JSON of a namespace config: a few dozen lines, so the quadratic
 * longest-common-subsequence table is cheap): `- ` removed, `+ ` added, a little context, `...` for the rest.
 * Empty when the texts are equal.
 */
export function lineDiff(before: string, after: string): string[] {
  const lines = diffLines(before.split('\n'), after.split('\n'));
  if (lines.every((line) => line.kind === ' ')) return [];
  const near = (index: number) =>
    lines
      .slice(Math.max(0, index - CONTEXT_LINES), index + CONTEXT_LINES + 1)
      .some((line) => line.kind !== ' ');
  const shown: string[] = [];
  let skipped = false;
  for (const [index, line] of lines.entries()) {
    if (line.kind !== ' ' || near(index)) {
      shown.push(`${line.kind} ${line.text}`);
      skipped = false;
    } else if (!skipped) {
      shown.push('  ...');
      skipped = true;
    }
  }
  return shown;
}

/** common[i][j]: length of the longest common subsequence of before[i..] and after[j..]. */
function commonLengths(
  before: readonly string[],
  after: readonly string[],
): (i: number, j: number) => number {
  const common = Array.from({ length: before.length + 1 }, () => new Array<number>(after.length + 1).fill(0));
  const at = (i: number, j: number) => common[i]?.[j] ?? 0;
  for (let i = before.length - 1; i >= 0; i--) {
    const row = common[i] as number[];
    for (let j = after.length - 1; j >= 0; j--) {
      row[j] = before[i] === after[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  return at;
}

function diffLines(before: readonly string[], after: readonly string[]): DiffLine[] {
  const at = commonLengths(before, after);
  const lines: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    if (i < before.length && j < after.length && before[i] === after[j]) {
      lines.push({ kind: ' ', text: before[i++] as string });
      j++;
    } else if (i < before.length && (j === after.length || at(i + 1, j) >= at(i, j + 1))) {
      lines.push({ kind: '-', text: before[i++] as string });
    } else {
      lines.push({ kind: '+', text: after[j++] as string });
    }
  }
  return lines;
}

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/**
 * Biome's noExcessiveLinesPerFunction counts code lines only; this gate counts comments too, so a
 * function cannot grow past a screen by hiding its length in comments. Tests are exempt.
 */
const MAX_LINES = 60;
const REPO_ROOT = join(__dirname, '..', '..');

function sourceFiles(): string[] {
  const listed = execFileSync(
    'git',
    ['ls-files', 'bin/*.ts', 'lambdas/*.ts', 'lib/*.ts', 'src/*.ts', 'src/*.cjs'],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    },
  );
  return listed.split('\n').filter((file) => file !== '' && !file.endsWith('.d.ts'));
}

/** Every function (declarations, methods, constructors, arrows) longer than `maxLines` non-blank lines. */
function longFunctions(file: string, text: string, maxLines: number): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lines = text.split('\n');
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const last = source.getLineAndCharacterOfPosition(node.end).line;
      const length = lines.slice(first, last + 1).filter((line) => line.trim() !== '').length;
      if (length > maxLines) found.push(`${file}:${first + 1} (${length} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('function length', () => {
  it('finds a function over the limit (the check can fail)', () => {
    // GIVEN a function of 62 lines
    const body = Array.from({ length: 60 }, (_, index) => `  const v${index} = ${index};`).join('\n');
    // WHEN it is measured / THEN it is reported with its length
    expect(longFunctions('x.ts', `function long() {\n${body}\n}\n`, MAX_LINES)).toEqual([
      'x.ts:1 (62 lines)',
    ]);
  });

  it(`no function outside the tests is longer than ${MAX_LINES} lines, comments included`, () => {
    // GIVEN every source file of the project
    const files = sourceFiles();
    // WHEN each function is measured
    const tooLong = files.flatMap((file) =>
      longFunctions(file, readFileSync(join(REPO_ROOT, file), 'utf8'), MAX_LINES),
    );
    // THEN none is over the limit
    expect(files.length).toBeGreaterThan(50);
    expect(tooLong).toEqual([]);
  });
});

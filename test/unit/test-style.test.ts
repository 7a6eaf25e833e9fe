import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/**
 * Every test says what it sets up, does and checks: its body (for `it.each`/`test.each`, its table too) has a
 * `// GIVEN`, `// WHEN` or `// THEN` comment, or the `Prepare`/`Act`/`Assess` a few files use.
 */
const STEP_COMMENT = /^\/\/.*\b(GIVEN|WHEN|THEN|Prepare|Act|Assess)\b/;
const TEST_FUNCTIONS = new Set(['it', 'test']);
const REPO_ROOT = join(__dirname, '..', '..');

function testFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', 'test/*.test.ts'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return listed.split('\n').filter((file) => file !== '');
}

/** `it`, `test.only`, `it.each(table)`: the name the callee starts from. */
function rootName(callee: ts.Expression): string | undefined {
  if (ts.isIdentifier(callee)) return callee.text;
  if (ts.isPropertyAccessExpression(callee) || ts.isCallExpression(callee))
    return rootName(callee.expression);
  return undefined;
}

/** A test is a call of `it`/`test` (or `it.each(table)`, ...) given the test function. */
function isTest(node: ts.Node): node is ts.CallExpression {
  return (
    ts.isCallExpression(node) &&
    TEST_FUNCTIONS.has(rootName(node.expression) ?? '') &&
    node.arguments.some((argument) => ts.isArrowFunction(argument) || ts.isFunctionExpression(argument))
  );
}

/** The `//` comments anywhere in `node`, the ones before its closing tokens included. */
function lineComments(node: ts.Node, text: string, source: ts.SourceFile): string[] {
  const ranges = [
    ...(ts.getLeadingCommentRanges(text, node.pos) ?? []),
    ...(ts.getTrailingCommentRanges(text, node.end) ?? []),
  ];
  return [
    ...ranges
      .filter((range) => range.kind === ts.SyntaxKind.SingleLineCommentTrivia)
      .map((range) => text.slice(range.pos, range.end)),
    ...node.getChildren(source).flatMap((child) => lineComments(child, text, source)),
  ];
}

/** Every test in `text` with no step comment, as `file:line`. */
function testsWithoutSteps(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (isTest(node) && !lineComments(node, text, source).some((comment) => STEP_COMMENT.test(comment))) {
      found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('test style', () => {
  it('finds a test with no GIVEN/WHEN/THEN comment (the check can fail)', () => {
    // GIVEN a test with a THEN comment, a table test with one, and two tests without (words in strings miss)
    const text = [
      "it('commented', () => {",
      '  // THEN it holds',
      '  expect(1).toBe(1);',
      '});',
      'test.each([1, 2])("%i", (value) => {',
      '  expect(value).toBeGreaterThan(0); // THEN it is positive',
      '});',
      "it('bare', () => {",
      '  expect(1).toBe(1);',
      '});',
      "test('GIVEN only in its title', () => {",
      "  expect('// THEN in a string').toBeDefined();",
      '});',
    ].join('\n');
    // WHEN its tests are checked / THEN the two without a comment are reported
    expect(testsWithoutSteps('x.test.ts', text)).toEqual(['x.test.ts:8', 'x.test.ts:11']);
  });

  it('every test has GIVEN/WHEN/THEN (or Prepare/Act/Assess) comments', () => {
    // GIVEN every test file of the project
    const files = testFiles();
    // WHEN each test is checked
    const bare = files.flatMap((file) =>
      testsWithoutSteps(file, readFileSync(join(REPO_ROOT, file), 'utf8')),
    );
    // THEN none lacks the comments
    expect(files.length).toBeGreaterThan(50);
    expect(bare).toEqual([]);
  });
});

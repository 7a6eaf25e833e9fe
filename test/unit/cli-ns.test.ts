import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNsCommand, validateNamespaceFiles } from '#src/cli/commands/ns';
import { UsageError } from '#src/cli/usage-error';

describe('wal ns validate', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'wal-ns-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const orders = JSON.parse(
    readFileSync(join(__dirname, '..', '..', 'config', 'dev', 'orders.json'), 'utf8'),
  );

  /** Writes `<name>.json` with `content` (a value as JSON, or raw text) into the scratch dir. */
  function namespaceFile(name: string, content: unknown): string {
    const file = join(scratch, `${name}.json`);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  }

  function validate(...files: string[]): { code: number; lines: string[] } {
    const lines: string[] = [];
    const code = validateNamespaceFiles(files, (line) => lines.push(line));
    return { code, lines };
  }

  it('accepts a valid namespace file, naming its targets', () => {
    // GIVEN the dev stage's orders namespace
    const file = namespaceFile('orders', orders);
    // WHEN it is validated
    const { code, lines } = validate(file);
    // THEN it is valid, with its namespace and targets
    expect(code).toBe(0);
    expect(lines).toEqual([`valid: ${file}: namespace "orders", targets orders (dynamodb)`]);
  });

  it("skips the stage's lock file that a glob of config/<stage>/*.json also names", () => {
    // GIVEN the prod stage's files: its namespace and its lock of provisioned targets
    const files = ['orders.json', 'provisioned.lock.json'].map((name) =>
      join(__dirname, '..', '..', 'config', 'prod', name),
    );
    // WHEN both are validated
    const { code, lines } = validate(...files);
    // THEN the namespace is valid and the lock is skipped, not reported invalid
    expect(code).toBe(0);
    expect(lines[1]).toBe(`skipped: ${files[1]}: the stage's lock of provisioned targets, not a namespace`);
  });

  it('fails if a field is wrong, naming its path, and still checks the other files', () => {
    // GIVEN a namespace whose retry.maxAttempts is 0, and a valid one
    const bad = namespaceFile('bad', { ...orders, name: 'bad', retry: { ...orders.retry, maxAttempts: 0 } });
    const good = namespaceFile('orders', orders);
    // WHEN both are validated
    const { code, lines } = validate(bad, good);
    // THEN the exit code is 1, the bad file's line names the field, and the good file is still checked
    expect(code).toBe(1);
    expect(lines[0]).toMatch(
      new RegExp(`^invalid: Invalid namespace config in ${bad}: retry\\.maxAttempts: `),
    );
    expect(lines[1]).toMatch(/^valid: /);
  });

  it('fails if the file is not JSON, or its name is not the namespace name', () => {
    // GIVEN a file with a syntax error, and orders' config in a file named "other.json"
    const broken = namespaceFile('broken', '{"name": "broken",');
    const misnamed = namespaceFile('other', orders);
    // WHEN they are validated
    const { code, lines } = validate(broken, misnamed);
    // THEN each is invalid, saying why
    expect(code).toBe(1);
    expect(lines[0]).toMatch(new RegExp(`^invalid: Invalid JSON in ${broken}`));
    expect(lines[1]).toMatch(/^invalid: .*other.*orders/);
  });

  it('fails if a file cannot be read, naming it', () => {
    // GIVEN a path where no file is
    const missing = join(scratch, 'missing.json');
    // WHEN it is validated / THEN it is reported as unreadable
    expect(validate(missing)).toEqual({ code: 1, lines: [`invalid: ${missing}: cannot be read (ENOENT)`] });
  });

  it('fails if no file or an unknown subcommand is given, as a usage error', async () => {
    // WHEN/THEN "wal ns validate" without files and "wal ns remove" are usage errors
    expect(() => validate()).toThrow(UsageError);
    await expect(runNsCommand('remove', [], {}, () => undefined)).rejects.toThrow(
      /subcommands are validate, list, get, set, enable, disable/,
    );
  });
});

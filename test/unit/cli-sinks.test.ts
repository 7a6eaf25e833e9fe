import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSinksCommand } from '#src/cli/commands/sinks';
import { SinkJournal } from '#src/local/sinks/sink-journal';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:orders';
const FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:apply';

describe('wal sinks', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'wal-sinks-cli-'));
  });
  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  function journalWith(count: number): void {
    const journal = new SinkJournal(dataDir);
    for (let index = 1; index <= count; index++) {
      journal.add({
        service: 'sns',
        resource: TOPIC,
        receivedAt: `2026-01-01T00:00:0${index}.000Z`,
        message: { id: `m${index}`, target: 'topic' },
        attributes: {},
      });
    }
    journal.add({
      service: 'lambda',
      resource: FUNCTION,
      receivedAt: '2026-01-01T00:01:00.000Z',
      message: { id: 'f1', target: 'fn' },
      attributes: {},
    });
  }

  it('lists each resource with its count and the last N messages', () => {
    // GIVEN a journal with four messages of a topic and one of a function
    journalWith(4);
    const lines: string[] = [];
    // WHEN the last two are asked for
    const code = runSinksCommand({ dataDir, last: 2 }, (line) => lines.push(line));
    // THEN each resource has its count and its newest messages
    expect(code).toBe(0);
    expect(lines[0]).toBe(`${TOPIC} (sns): 4 messages`);
    expect(lines.slice(1, 3).map((line) => JSON.parse(line.slice(line.indexOf('{'))).id)).toEqual([
      'm3',
      'm4',
    ]);
    expect(lines[3]).toBe(`${FUNCTION} (lambda): 1 message`);
  });

  it('keeps only the resources or WAL targets --target names', () => {
    // GIVEN a journal of two resources
    journalWith(1);
    const byArn: string[] = [];
    const byTarget: string[] = [];
    // WHEN filtered by part of an ARN and by a WAL target name
    runSinksCommand({ dataDir, target: 'function:apply' }, (line) => byArn.push(line));
    runSinksCommand({ dataDir, target: 'topic' }, (line) => byTarget.push(line));
    // THEN only the matching resource is listed
    expect(byArn[0]).toBe(`${FUNCTION} (lambda): 1 message`);
    expect(byArn).toHaveLength(2);
    expect(byTarget[0]).toBe(`${TOPIC} (sns): 1 message`);
    expect(byTarget).toHaveLength(2);
  });

  it('fails if the data dir has no sinks journal', () => {
    // GIVEN an empty data dir
    const lines: string[] = [];
    // WHEN the sinks are listed
    const code = runSinksCommand({ dataDir }, (line) => lines.push(line));
    // THEN it says where it looked, with exit code 1
    expect(code).toBe(1);
    expect(lines[0]).toContain(join(dataDir, 'sinks.jsonl'));
  });

  it('says when nothing matches', () => {
    // GIVEN a journal without the asked-for target
    journalWith(1);
    const lines: string[] = [];
    // WHEN filtered by an unknown name
    const code = runSinksCommand({ dataDir, target: 'nothing-here' }, (line) => lines.push(line));
    // THEN it says so
    expect(code).toBe(0);
    expect(lines).toEqual(['The sinks received nothing for "nothing-here".']);
  });
});

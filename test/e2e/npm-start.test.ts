import { type ChildProcess, spawn } from 'node:child_process';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { REPO_ROOT } from '../support/local-wal-harness';

/** Reads the child's output until a line matches, or fails after the timeout with what it printed. */
function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
  output: string[],
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${pattern} in:\n${output.join('')}`)),
      timeoutMs,
    );
    const check = () => {
      for (const line of output.join('').split('\n')) {
        const match = pattern.exec(line);
        if (match) {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          resolve(match);
          return;
        }
      }
    };
    child.stdout?.on('data', check);
    check();
  });
}

function isGroupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not reached within ${timeoutMs} ms`);
}

describe('npm start (the README quick start)', () => {
  let child: ChildProcess | undefined;
  const output: string[] = [];

  afterAll(() => {
    // The test stops it itself; this only cleans up after a failure.
    if (child?.pid && isGroupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  });

  it('runs the WAL: a POSTed mutation reaches the demo table, and Ctrl-C stops everything', async () => {
    // GIVEN the local runtime started as the README says, on free ports
    child = spawn(
      'npm',
      [
        'start',
        '--',
        '--in-memory',
        '--port',
        '0',
        '--dynamodb-port',
        '0',
        '--kinesis-port',
        '0',
        '--sqs-port',
        '0',
        '--ssm-port',
        '0',
      ],
      {
        cwd: REPO_ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, FORCE_COLOR: '0' },
      },
    );
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const api = (await waitForLine(child, /^\s+API\s+(http:\/\/\S+)/, 50_000, output))[1] as string;
    const dynamodb = (await waitForLine(child, /^\s+DynamoDB\s+(http:\/\/\S+)/, 1_000, output))[1] as string;
    const table = (await waitForLine(child, /demo -> main \(dynamodb (\S+)\)/, 1_000, output))[1] as string;

    // WHEN a client POSTs a mutation over HTTP
    const health = await fetch(`${api}/v1/health`);
    const response = await fetch(`${api}/v1/namespaces/demo/mutations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: { id: 'e2e-1', n: 1 } }),
    });
    const answer = (await response.json()) as { id: string; durable: string };

    // THEN it is acknowledged, and the item reaches the target table
    expect(health.status).toBe(200);
    expect(response.status).toBe(200);
    expect(answer.durable).toBe('SUCCESS');
    const documents = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: dynamodb,
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      }),
    );
    const item = await waitFor(async () => {
      const found = await documents.send(new GetCommand({ TableName: table, Key: { id: 'e2e-1' } }));
      return found.Item;
    }, 15_000);
    expect(item).toMatchObject({ id: 'e2e-1', n: 1, _walId: answer.id });
    // The path of the mutation is in the structured logs.
    expect(output.join('')).toMatch(/"message":"Mutation applied".*"id":"[0-9A-Z]{26}"/);
    documents.destroy();

    // WHEN Ctrl-C (the terminal sends SIGINT to the whole foreground process group)
    const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
    const group = child.pid as number;
    process.kill(-group, 'SIGINT');
    await exited;
    // THEN the runtime stops cleanly, no process of it is left, and the API port is closed
    await waitFor(
      async () => (output.join('').includes('serverless-wal: stopped.') ? true : undefined),
      10_000,
    );
    await waitFor(async () => (isGroupAlive(group) ? undefined : true), 10_000);
    await expect(fetch(`${api}/v1/health`)).rejects.toThrow();
  }, 90_000);
});

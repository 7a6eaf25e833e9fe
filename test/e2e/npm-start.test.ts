import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { isGroupAlive, type LocalProcess, spawnNpmStart, waitForLine } from '#test/support/local-process';
import { waitFor } from '#test/support/wait';

describe('npm start (the README quick start)', () => {
  let local: LocalProcess | undefined;

  afterAll(() => {
    // The test stops it itself; this only cleans up after a failure.
    if (local && isGroupAlive(local.group)) process.kill(-local.group, 'SIGKILL');
  });

  it('runs the WAL: a POSTed mutation reaches the demo table, and Ctrl-C stops everything', async () => {
    // GIVEN the local runtime started as the README says, on free ports
    // (its outputs file in a temporary dir: the repository's .wal-data may hold a running WAL's)
    local = spawnNpmStart([
      '--in-memory',
      '--outputs-file',
      join(mkdtempSync(join(tmpdir(), 'wal-e2e-')), 'outputs.json'),
    ]);
    const { output } = local;
    const api = (await waitForLine(local, /^\s+API\s+(http:\/\/\S+)/, 90_000))[1] as string;
    const dynamodb = (await waitForLine(local, /^\s+DynamoDB\s+(http:\/\/\S+)/, 1_000))[1] as string;
    const table = (await waitForLine(local, /demo -> main \(dynamodb (\S+)\)/, 1_000))[1] as string;

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
    const exited = new Promise<void>((resolve) => local?.child.once('exit', () => resolve()));
    const { group } = local;
    process.kill(-group, 'SIGINT');
    await exited;
    // THEN the runtime stops cleanly, no process of it is left, and the API port is closed
    await waitFor(
      async () => (output.join('').includes('serverless-wal: stopped.') ? true : undefined),
      10_000,
    );
    await waitFor(async () => (isGroupAlive(group) ? undefined : true), 10_000);
    await expect(fetch(`${api}/v1/health`)).rejects.toThrow();
  }, 150_000);
});

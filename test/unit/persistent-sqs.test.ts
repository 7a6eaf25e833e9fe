import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequestHandler } from 'local-aws-sqs';
import { persistSqs, type SqsPersistence } from '#src/local/sqs-journal/persistent-sqs';

// persistSqs on local-aws-sqs's service object, without HTTP: the emulator's own queue methods.

type SqsService = ReturnType<typeof createRequestHandler>['service'];

function emulator(retentionSeconds: number): SqsService {
  const { service } = createRequestHandler({
    port: 0,
    queues: [{ QueueName: 'q', Attributes: { MessageRetentionPeriod: retentionSeconds } }],
  });
  return service;
}

function queueOf(service: SqsService) {
  const queue = service.Queues.find((candidate) => candidate.QueueName === 'q');
  if (!queue) throw new Error('no queue q');
  return queue;
}

async function bodies(service: SqsService): Promise<string[]> {
  // A wait of 1 s: with 0 the emulator answers after 40 ms, which a loaded machine may pass before it looked.
  const received = (await queueOf(service).receive({ MaxNumberOfMessages: 10, WaitTimeSeconds: 1 })) as {
    MessageBody: string;
  }[];
  return received.map((message) => message.MessageBody);
}

describe('persistSqs', () => {
  let dir: string;
  const opened: SqsPersistence[] = [];
  const services: SqsService[] = [];

  function start(retentionSeconds: number, now?: () => number): SqsService {
    const service = emulator(retentionSeconds);
    services.push(service);
    const persistence = persistSqs(service, join(dir, 'sqs-journal.log'), now);
    opened.push(persistence);
    persistence.attachNewQueues();
    return service;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wal-persist-'));
  });

  afterEach(() => {
    for (const persistence of opened.splice(0)) persistence.close();
    for (const service of services.splice(0)) service.resetAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts a message back while its retention period lasts', async () => {
    // GIVEN a message sent on a queue that keeps messages 60 s
    const first = start(60);
    queueOf(first).setRecord({ MessageBody: 'kept' });

    // WHEN the emulator starts again 59 s later
    const second = start(60, () => Date.now() + 59_000);

    // THEN the message is there
    expect(await bodies(second)).toEqual(['kept']);
  });

  it('drops a message whose retention period ended while it was down, as SQS would have', async () => {
    // GIVEN a message sent on a queue that keeps messages 60 s
    const first = start(60);
    queueOf(first).setRecord({ MessageBody: 'expired' });

    // WHEN the emulator starts again 61 s later, its queue (as at every start) not yet given its attributes
    const second = start(345_600, () => Date.now() + 61_000);

    // THEN the message is gone: its retention is the one it arrived with
    expect(await bodies(second)).toEqual([]);
  });

  it('records nothing once closed: the shutdown reset does not empty the journal', async () => {
    // GIVEN a message, and an emulator shut down the way stop() does it (close, then reset)
    const first = start(60);
    queueOf(first).setRecord({ MessageBody: 'survives a clean stop' });
    opened[0]?.close();
    first.resetAll();

    // WHEN it starts again
    const second = start(60);

    // THEN the message is there
    expect(await bodies(second)).toEqual(['survives a clean stop']);
  });
});

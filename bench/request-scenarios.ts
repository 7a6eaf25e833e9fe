import { performance } from 'node:perf_hooks';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { JsonBodyEvent } from '#lambdas/shared/http/json-body';
import { consumeStreamBatch } from '#lambdas/shared/stream-batch';
import { type InvokeKinesisHandler, KinesisEventSource } from '#src/local/event-sources/kinesis-event-source';
import { close, listen } from '#src/local/http-server';
import { createApiServer } from '#src/local/runtime/api-server';
import {
  BENCH_NAMESPACE,
  BenchScenarioError,
  type CountedWal,
  captureStdout,
  ingestHandler,
  lambdaContext,
} from './counted-wal';
import type { RequestCounts } from './request-counter';

/** What one scenario used: its requests and units, its invocations and the bytes its logger printed. */
export interface Phase {
  readonly mutations: number;
  readonly invocations: number;
  readonly counts: RequestCounts;
  readonly logBytes: number;
  readonly logLines: number;
  /** Median wall time of one invocation of the handler in this process, against the emulators. */
  readonly medianInvocationMs: number;
  /** API Gateway requests, metered in 512 KB increments. */
  readonly apiRequests: number;
  /** Bytes the consumer read from the stream (Kinesis retrieval). */
  readonly retrievedBytes: number;
}

const KB = 1024;
const API_METERING_BYTES = 512 * KB;

/** Collects invocations, their times and their log output while a scenario runs. */
export class PhaseRecorder {
  invocations = 0;
  logBytes = 0;
  logLines = 0;
  apiRequests = 0;
  retrievedBytes = 0;
  private readonly durations: number[] = [];

  constructor(private readonly counted: CountedWal) {
    counted.counter.reset();
  }

  /** Runs one invocation, timed, its logs captured. */
  async invoke<T>(action: () => Promise<T>): Promise<T> {
    this.invocations++;
    const started = performance.now();
    const captured = await captureStdout(action);
    this.durations.push(performance.now() - started);
    this.logBytes += captured.bytes;
    this.logLines += captured.lines;
    return captured.result;
  }

  finish(mutations: number): Phase {
    const sorted = [...this.durations].sort((a, b) => a - b);
    return {
      mutations,
      invocations: this.invocations,
      counts: this.counted.counter.snapshot(),
      logBytes: this.logBytes,
      logLines: this.logLines,
      medianInvocationMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
      apiRequests: this.apiRequests,
      retrievedBytes: this.retrievedBytes,
    };
  }
}

/** A mutation whose payload is 1 KB of JSON. */
export function mutationOf1Kb(index: number): { payload: { id: string; data: string } } {
  const id = `m-${index}-${Date.now()}`;
  const bare = JSON.stringify({ id, data: '' }).length;
  return { payload: { id, data: 'x'.repeat(KB - bare) } };
}

/** Serves the template's routes with the ingest handler running here, as API Gateway would call it. */
export async function withIngestApi<T>(
  counted: CountedWal,
  recorder: PhaseRecorder,
  use: (apiUrl: string) => Promise<T>,
): Promise<T> {
  const handler = ingestHandler(counted);
  const api = createApiServer();
  const apiUrl = `http://127.0.0.1:${await listen(api.server, 0, '127.0.0.1')}`;
  api.serve(counted.wal.wiring.routes, (_route, event: APIGatewayProxyEventV2) => {
    recorder.apiRequests += Math.max(1, Math.ceil(Buffer.byteLength(event.body ?? '') / API_METERING_BYTES));
    return recorder.invoke(() => handler(event as JsonBodyEvent, lambdaContext(counted.ingest.fn)));
  });
  try {
    return await use(apiUrl);
  } finally {
    await close(api.server);
  }
}

export async function post(url: string, body: unknown): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Steady state: the namespace config is in the cache before a scenario starts (see `configReadsToWarm`). */
export async function warmConfig(counted: CountedWal): Promise<void> {
  await counted.ingest.deps.namespaces.get(BENCH_NAMESPACE);
  await counted.delivery.deps.namespaces.get(BENCH_NAMESPACE);
}

/** `count` single POSTs of a 1 KB mutation through the ingest handler. */
export async function ingestSingle(counted: CountedWal, count: number): Promise<Phase> {
  await warmConfig(counted);
  const recorder = new PhaseRecorder(counted);
  await withIngestApi(counted, recorder, async (apiUrl) => {
    for (let index = 0; index < count; index++) {
      const status = await post(`${apiUrl}/v1/namespaces/${BENCH_NAMESPACE}/mutations`, mutationOf1Kb(index));
      if (status !== 200)
        throw new BenchScenarioError(`single POST answered ${status}: the bench needs the happy path`);
    }
  });
  return recorder.finish(count);
}

/** `batches` batch POSTs of 100 mutations; undefined when the batch endpoint answers 404 (not there yet). */
export async function ingestBatch(counted: CountedWal, batches: number): Promise<Phase | undefined> {
  await warmConfig(counted);
  const recorder = new PhaseRecorder(counted);
  const answered = await withIngestApi(counted, recorder, async (apiUrl) => {
    for (let batch = 0; batch < batches; batch++) {
      const mutations = Array.from({ length: 100 }, (_, index) => mutationOf1Kb(batch * 100 + index));
      const status = await post(`${apiUrl}/v1/namespaces/${BENCH_NAMESPACE}/mutations:batch`, { mutations });
      if (status === 404) return false;
      if (status !== 200 && status !== 207) throw new BenchScenarioError(`batch POST answered ${status}`);
    }
    return true;
  });
  return answered ? recorder.finish(batches * 100) : undefined;
}

/** The stream reader of a counted WAL: a later `consume` goes on where the last one stopped, as Lambda's poller does. */
interface StreamReader {
  readonly source: KinesisEventSource;
  onEvent: InvokeKinesisHandler | undefined;
}

const streamReaders = new WeakMap<CountedWal, StreamReader>();

function streamReaderOf(counted: CountedWal): StreamReader {
  const existing = streamReaders.get(counted);
  if (existing) return existing;
  const mapping = counted.wal.wiring.kinesisMappings[0];
  if (!mapping) throw new BenchScenarioError('the template has no Kinesis event source mapping');
  const reader: StreamReader = {
    // Lambda's poller reads the stream (GetRecords is not billed per request; the bytes are): not counted.
    source: new KinesisEventSource(
      counted.wal.clients.kinesis,
      mapping.settings,
      (event) => {
        if (!reader.onEvent)
          throw new BenchScenarioError('a stream batch arrived outside a consume scenario');
        return reader.onEvent(event);
      },
      undefined,
    ),
    onEvent: undefined,
  };
  streamReaders.set(counted, reader);
  return reader;
}

/** The stream consumer on everything ingested since the last call, in the template's batches (100). */
export async function consume(counted: CountedWal): Promise<Phase> {
  await warmConfig(counted);
  const recorder = new PhaseRecorder(counted);
  const { deps, streamFn } = counted.delivery;
  const handler = middy<KinesisStreamEvent, KinesisStreamBatchResponse>()
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .handler((event) => consumeStreamBatch(deps, event));
  const reader = streamReaderOf(counted);
  let mutations = 0;
  reader.onEvent = (event) => {
    mutations += event.Records.length;
    for (const record of event.Records) {
      recorder.retrievedBytes +=
        Buffer.from(record.kinesis.data, 'base64').byteLength +
        Buffer.byteLength(record.kinesis.partitionKey);
    }
    return recorder.invoke(() => handler(event, lambdaContext(streamFn)));
  };
  try {
    while ((await reader.source.pollOnce()) > 0 || reader.source.hasPendingRecords()) {
      // Each round hands over one batch per shard.
    }
  } finally {
    reader.onEvent = undefined;
  }
  return recorder.finish(mutations);
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { DEFAULT_LOCAL_HOST } from '#src/local/constants';
import { close, endpointUrl, listen } from '#src/local/http-server';
import { invokeFunction, putEvents, type SinkAnswer, SnsPublishHandler } from './sink-handlers';
import { SinkJournal } from './sink-journal';

export interface SinksOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** Appends what the sinks receive to `<dataDir>/sinks.jsonl`, and reads it back at start. */
  readonly dataDir?: string;
}

/** The local stand-in for SNS, EventBridge and Lambda targets, and what it received. */
export interface Sinks {
  readonly endpoint: string;
  readonly journal: SinkJournal;
  stop(): Promise<void>;
}

/** Lambda's synchronous payload limit (6 MB) and some room: larger requests are refused. */
const MAX_BODY_BYTES = 7 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/**
 * One HTTP endpoint that answers exactly the calls the sns, eventbridge and lambda targets make —
 * SNS Publish (awsQuery), EventBridge PutEvents (JSON 1.1), Lambda Invoke (REST-JSON) — for any topic,
 * bus or function of any account, and records each message per resource.
 */
export async function startSinks(options: SinksOptions = {}): Promise<Sinks> {
  const journal = new SinkJournal(options.dataDir);
  const sns = new SnsPublishHandler(journal);
  const host = options.host ?? DEFAULT_LOCAL_HOST;
  const server = createServer((req, res) => {
    void readBody(req)
      .then((body) => answer(res, route(req, body, { journal, sns })))
      .catch((error: unknown) => answer(res, jsonError(500, 'InternalFailure', String(error))));
  });
  const port = await listen(server, options.port ?? 0, host);
  let stopping: Promise<void> | undefined;
  return {
    endpoint: endpointUrl(host, port),
    journal,
    stop: () => {
      stopping ??= close(server);
      return stopping;
    },
  };
}

function route(
  req: IncomingMessage,
  body: Buffer | undefined,
  handlers: { journal: SinkJournal; sns: SnsPublishHandler },
): SinkAnswer {
  if (req.method !== 'POST') return jsonError(405, 'UnknownOperationException', 'only POST is answered');
  if (body === undefined) return jsonError(413, 'RequestTooLargeException', 'the request is too large');
  const text = body.toString('utf8');
  const path = new URL(req.url ?? '/', 'http://sinks').pathname;
  const invoke = INVOKE_PATH.exec(path);
  if (invoke?.[1] !== undefined) return invokeFunction(handlers.journal, decodeURIComponent(invoke[1]), text);
  if (req.headers['x-amz-target'] === 'AWSEvents.PutEvents') {
    try {
      return putEvents(handlers.journal, JSON.parse(text));
    } catch {
      return jsonError(400, 'SerializationException', 'the body is not JSON');
    }
  }
  const params = new URLSearchParams(text);
  if (path === '/' && params.get('Action') === 'Publish') return handlers.sns.handle(params);
  return jsonError(
    400,
    'UnknownOperationException',
    'the sinks answer SNS Publish, PutEvents and Invoke only',
  );
}

function jsonError(status: number, type: string, message: string): SinkAnswer {
  const body = JSON.stringify({ __type: type, message });
  return { status, headers: { 'Content-Type': 'application/json', 'x-amzn-ErrorType': type }, body };
}

function answer(res: ServerResponse, sinkAnswer: SinkAnswer): void {
  res.writeHead(sinkAnswer.status, {
    ...sinkAnswer.headers,
    'Content-Length': Buffer.byteLength(sinkAnswer.body),
  });
  res.end(sinkAnswer.body);
}

/** The body, or undefined when it is over the limit (drained, so the client still gets its answer). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { DEFAULT_LOCAL_HOST, DEFAULT_LOCAL_REGION, LOCAL_ACCOUNT_ID } from './constants';
import { close, endpointUrl, listen } from './http-server';
import { SerializationError, SsmApiError, SsmValidationError, UnknownOperationError } from './ssm-errors';
import { PARAMETER_TIERS, PARAMETER_TYPES, SsmStore } from './ssm-store';

export interface SsmServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** JSON file the parameters are saved to on each change and loaded from at start. */
  persistPath?: string;
  region?: string;
  accountId?: string;
}

export interface SsmServer {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts a minimal SSM Parameter Store endpoint that speaks AWS JSON 1.1 as `@aws-sdk/client-ssm`
 * sends it: `POST /` with `X-Amz-Target: AmazonSSM.<Operation>`.
 */
export async function startSsmServer(options: SsmServerOptions = {}): Promise<SsmServer> {
  const store = new SsmStore({
    region: options.region ?? DEFAULT_LOCAL_REGION,
    accountId: options.accountId ?? LOCAL_ACCOUNT_ID,
    persistPath: options.persistPath,
  });
  const host = options.host ?? DEFAULT_LOCAL_HOST;
  const server = createServer((req, res) => {
    void handle(store, req, res);
  });
  const port = await listen(server, options.port ?? 0, host);
  let stopping: Promise<void> | undefined;
  return {
    endpoint: endpointUrl(host, port),
    port,
    stop: () => {
      stopping ??= close(server);
      return stopping;
    },
  };
}

const TARGET_PREFIX = 'AmazonSSM.';
const MAX_BODY_BYTES = 1024 * 1024;

const withDecryption = z.boolean().optional();
const getParameterInput = z.object({ Name: z.string().min(1), WithDecryption: withDecryption });
const putParameterInput = z.object({
  Name: z.string().min(1),
  Value: z.string().min(1),
  Type: z.enum(PARAMETER_TYPES).optional(),
  Overwrite: z.boolean().optional(),
  Description: z.string().max(1024).optional(),
  AllowedPattern: z.string().max(1024).optional(),
  Tier: z.enum(PARAMETER_TIERS).optional(),
  DataType: z.enum(['text', 'aws:ec2:image', 'aws:ssm:integration']).optional(),
  KeyId: z.string().optional(),
  Tags: z.array(z.unknown()).optional(),
  Policies: z.string().optional(),
});
const getParametersByPathInput = z.object({
  Path: z.string().min(1).max(2048),
  Recursive: z.boolean().optional(),
  WithDecryption: withDecryption,
  MaxResults: z.number().int().min(1).max(10).optional(),
  NextToken: z.string().min(1).optional(),
  ParameterFilters: z.array(z.unknown()).max(0, 'the local endpoint supports no ParameterFilters').optional(),
});
type Operation = (store: SsmStore, input: unknown) => unknown;

const operations: Record<string, Operation> = {
  GetParameter: (store, input) => {
    const request = parse(getParameterInput, input);
    return { Parameter: store.get(request.Name, request.WithDecryption === true) };
  },
  GetParametersByPath: (store, input) => {
    const request = parse(getParametersByPathInput, input);
    const { parameters, nextToken } = store.byPath(request.Path, {
      recursive: request.Recursive === true,
      decrypt: request.WithDecryption === true,
      maxResults: request.MaxResults ?? 10,
      ...(request.NextToken === undefined ? {} : { nextToken: request.NextToken }),
    });
    return { Parameters: parameters, ...(nextToken === undefined ? {} : { NextToken: nextToken }) };
  },
  PutParameter: (store, input) => {
    const { version, tier } = store.put(parse(putParameterInput, input));
    return { Version: version, Tier: tier };
  },
};

async function handle(store: SsmStore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  try {
    const body = await readBody(req);
    const operation = resolveOperation(req);
    send(res, 200, operation(store, parseJson(body)), requestId);
  } catch (err) {
    if (err instanceof SsmApiError) {
      send(res, 400, { __type: err.awsType, message: err.message }, requestId);
    } else {
      const message = err instanceof Error ? err.message : String(err);
      send(res, 500, { __type: 'InternalServerError', message }, requestId);
    }
  }
}

function resolveOperation(req: IncomingMessage): Operation {
  const target = req.headers['x-amz-target'];
  const name =
    typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
  const operation = req.method === 'POST' ? operations[name] : undefined;
  if (!operation) throw new UnknownOperationError(typeof target === 'string' ? target : undefined);
  return operation;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining so the client still gets the answer, but stop buffering.
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES)
        reject(new SsmValidationError(`The request body exceeds ${MAX_BODY_BYTES} bytes.`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function parseJson(body: string): unknown {
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new SerializationError(err);
  }
}

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map(
    (issue) =>
      `Value at '${issue.path.join('.') || '(body)'}' failed to satisfy constraint: ${issue.message}`,
  );
  throw new SsmValidationError(`${issues.length} validation error(s) detected: ${issues.join('; ')}`, {
    cause: result.error,
  });
}

function send(res: ServerResponse, status: number, payload: unknown, requestId: string): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-RequestId': requestId,
  });
  res.end(body);
}

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { RouteWiring } from './wiring';

export type InvokeRoute = (
  route: RouteWiring,
  event: APIGatewayProxyEventV2,
) => Promise<APIGatewayProxyStructuredResultV2>;

interface CompiledRoute {
  readonly route: RouteWiring;
  readonly method: string;
  readonly pattern: RegExp;
  readonly parameterNames: string[];
}

/** `POST /v1/namespaces/{namespace}/mutations` -> a regex with one group per path parameter. */
function compile(route: RouteWiring): CompiledRoute {
  const [method = 'ANY', path = '/'] = route.routeKey.split(' ');
  const parameterNames: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      const parameter = /^\{([^}+]+)(\+?)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      parameterNames.push(parameter[1] as string);
      return parameter[2] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { route, method, pattern: new RegExp(`^${source}$`), parameterNames };
}

export interface ApiServer {
  readonly server: Server;
  /** Starts serving the routes; until then every request gets 503 (the runtime is starting). */
  serve(routes: RouteWiring[], invoke: InvokeRoute): void;
}

/**
 * Serves the template's HTTP API routes on loopback as API Gateway v2 (payload 2.0) events.
 * Authorization (AWS_IAM) is not checked locally: there are no AWS credentials to check against.
 */
export function createApiServer(): ApiServer {
  let router: { routes: CompiledRoute[]; invoke: InvokeRoute } | undefined;
  const server = createServer((request, response) => {
    if (!router) {
      writeProblem(response, 503, 'Starting', 'The local WAL is still starting. Try again in a moment.');
      return;
    }
    handle(router.routes, router.invoke, request, response).catch((error: unknown) => {
      writeIntegrationFailure(response, error);
    });
  });
  return {
    server,
    serve(routes, invoke) {
      router = { routes: routes.map(compile), invoke };
    },
  };
}

async function handle(
  routes: CompiledRoute[],
  invoke: InvokeRoute,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const method = request.method ?? 'GET';
  const matched = matchRoute(routes, method, url.pathname);
  if (!matched) {
    writeProblem(response, 404, 'Not found', `No route ${method} ${url.pathname}.`);
    return;
  }
  const event = proxyEvent(matched, request, url, await readBody(request));
  const result = await invoke(matched.route.route, event);
  response.writeHead(result.statusCode ?? 200, { ...(result.headers as Record<string, string> | undefined) });
  response.end(
    result.isBase64Encoded && result.body ? Buffer.from(result.body, 'base64') : (result.body ?? ''),
  );
}

interface MatchedRoute {
  readonly route: CompiledRoute;
  /** The path parameters' values, in the order of the route's names. */
  readonly values: string[];
}

function matchRoute(routes: CompiledRoute[], method: string, path: string): MatchedRoute | undefined {
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (match && (route.method === method || route.method === 'ANY'))
      return { route, values: match.slice(1) };
  }
  return undefined;
}

/** The payload format 2.0 event API Gateway hands a Lambda proxy integration. */
function proxyEvent(
  { route, values }: MatchedRoute,
  request: IncomingMessage,
  url: URL,
  body: Buffer,
): APIGatewayProxyEventV2 {
  const method = request.method ?? 'GET';
  const pathParameters = Object.fromEntries(
    route.parameterNames.map((name, index) => [name, decodeURIComponent(values[index] ?? '')]),
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route.route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    ...(route.parameterNames.length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.route.routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
    isBase64Encoded: false,
  };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/**
 * What an HTTP API answers when its Lambda integration fails — the function threw, its runtime
 * exited, or it ran past its timeout: 500 `{"message":"Internal Server Error"}`, whatever the cause
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html).
 * The cause goes to the log, as API Gateway's `$context.integrationErrorMessage` would.
 */
function writeIntegrationFailure(response: ServerResponse, error: unknown): void {
  console.error(
    `local API: the Lambda integration failed: ${error instanceof Error ? error.message : String(error)}`,
  );
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(500, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ message: 'Internal Server Error' }));
}

function writeProblem(response: ServerResponse, status: number, title: string, detail: string): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/problem+json' });
  response.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

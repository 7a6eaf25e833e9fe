import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { namespaceParameterName } from '#lambdas/shared/namespace-config';
import { verifyWebhook } from '#lambdas/shared/targets/webhook-signature';
import type { LocalWal } from '#src/local/runtime/local-wal';

/** One request the receiver got, as it arrived (raw body), and what it answered. */
export interface WebhookDelivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Whether the signature verified with the receiver's secret. */
  readonly verified: boolean;
  /** The status answered, or 'hang' when it held the request past the sender's timeout. */
  readonly answer: number | 'hang';
}

/**
 * What the receiver answers, scripted by the payload: `{ "respond": [500, 200] }` answers the first
 * delivery of a mutation id 500 and every later one 200; `"hang"` holds the request for `hangMs` (longer
 * than the sender's timeout) before answering 200. Without `respond` it answers 200.
 */
export type ScriptedAnswer = number | 'hang';

export interface WebhookReceiver {
  readonly url: string;
  readonly deliveries: WebhookDelivery[];
  /** Deliveries whose envelope has this mutation id, in arrival order. */
  deliveriesOf(id: string): WebhookDelivery[];
  close(): Promise<void>;
}

function scriptOf(body: string): ScriptedAnswer[] {
  try {
    const respond = (JSON.parse(body) as { payload?: { respond?: unknown } }).payload?.respond;
    return Array.isArray(respond) ? (respond as ScriptedAnswer[]) : [];
  } catch {
    return [];
  }
}

function idOf(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { id?: string }).id;
  } catch {
    return undefined;
  }
}

/**
 * A real webhook receiver on 127.0.0.1 (a free port): it verifies every request's Standard Webhooks
 * signature with `secret` (401 if it does not verify), records it, and answers as the payload scripts.
 */
export async function startWebhookReceiver(secret: string, hangMs = 3_000): Promise<WebhookReceiver> {
  const deliveries: WebhookDelivery[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = true;
      try {
        verifyWebhook(secret, request.headers, body);
      } catch {
        verified = false;
      }
      const id = idOf(body);
      const earlier = deliveries.filter((delivery) => idOf(delivery.body) === id).length;
      const script = scriptOf(body);
      const scripted = script[Math.min(earlier, script.length - 1)] ?? 200;
      const answer = verified ? scripted : 401;
      deliveries.push({ headers: request.headers, body, verified, answer });
      const reply = () => {
        const status = answer === 'hang' ? 200 : answer;
        response.writeHead(status, { 'content-type': 'text/plain', 'x-receiver-secret': 'never-in-errors' });
        response.end(status < 300 ? 'ok' : `receiver says ${status}\nfor mutation ${id}`);
      };
      if (answer !== 'hang') return reply();
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply();
      }, hangMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/wal`,
    deliveries,
    deliveriesOf: (id) => deliveries.filter((delivery) => idOf(delivery.body) === id),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A receiver for a namespace's http targets on the test WAL (stage `it`): it is started, its signing secret is
 * written to the SecureString parameter the targets name, and their URL (an https:// placeholder in the fixture,
 * which the `it` stage's synth accepts) is pointed at it in the namespace's parameter, as `wal ns set` would. Call
 * it before any mutation of the namespace is posted (the functions cache the config).
 */
export async function receiveWebhooksFor(
  wal: LocalWal,
  namespace: string,
  secret: { readonly parameter: string; readonly value: string },
  hangMs?: number,
): Promise<WebhookReceiver> {
  const receiver = await startWebhookReceiver(secret.value, hangMs);
  await wal.clients.ssm.send(
    new PutParameterCommand({
      Name: secret.parameter,
      Type: 'SecureString',
      Value: secret.value,
      Overwrite: true,
    }),
  );
  const name = namespaceParameterName('it', namespace);
  const current = await wal.clients.ssm.send(new GetParameterCommand({ Name: name }));
  const config = JSON.parse(current.Parameter?.Value ?? '{}') as {
    targets: { type: string; url?: string }[];
  };
  for (const target of config.targets) if (target.type === 'http') target.url = receiver.url;
  await wal.clients.ssm.send(
    new PutParameterCommand({ Name: name, Type: 'String', Value: JSON.stringify(config), Overwrite: true }),
  );
  return receiver;
}

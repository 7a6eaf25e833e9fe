import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { HttpTargetConfig } from '#lambdas/shared/namespace-config';
import { HttpTarget, plainHttpAllowed } from '#lambdas/shared/targets/http-target';
import { createTarget, type TargetClients } from '#lambdas/shared/targets/index';
import { toMessageEnvelope } from '#lambdas/shared/targets/message-envelope';
import { PermanentTargetError, TransientTargetError } from '#lambdas/shared/targets/target-errors';
import { clearSecretCache } from '#lambdas/shared/targets/webhook-secret';
import { verifyWebhook } from '#lambdas/shared/targets/webhook-signature';
import { loggedMutation } from '#test/support/fixtures';
import { startWebhookReceiver, type WebhookReceiver } from '#test/support/webhook-receiver';

const SECRET = 'whsec_dGVzdC1zZWNyZXQtb2YtdGhlLWh0dHAtdGFyZ2V0';
const ssmMock = mockClient(SSMClient);
const clients = {
  ssm: new SSMClient({ region: 'us-east-1' }),
  secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
};

let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver(SECRET, 3_000);
});
afterAll(() => receiver.close());
beforeEach(() => {
  ssmMock.reset();
  ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: SECRET } });
  clearSecretCache();
});

function config(overrides: Partial<HttpTargetConfig> = {}): HttpTargetConfig {
  return {
    name: 'hook',
    type: 'http',
    url: receiver.url,
    secret: { ssmParameter: '/hooks/secret' },
    ...overrides,
  };
}

function target(overrides: Partial<HttpTargetConfig> = {}, allowPlainHttp = true): HttpTarget {
  return new HttpTarget(config(overrides), clients, { allowPlainHttp, now: () => Date.now() });
}

/** A mutation whose payload scripts the receiver's answers; a fresh id each time. */
let counter = 0;
function scripted(respond: unknown[]) {
  counter += 1;
  return loggedMutation({ id: `01JHTTPTARGET${String(counter).padStart(13, '0')}`, payload: { respond } });
}

describe('HttpTarget', () => {
  it('POSTs the envelope as JSON with Idempotency-Key and a signature that verifies', async () => {
    // GIVEN a mutation the receiver accepts
    const mutation = scripted([200]);
    // WHEN
    const outcome = await target().apply(mutation);
    // THEN
    expect(outcome).toBe('applied');
    const [delivery] = receiver.deliveriesOf(mutation.envelope.id);
    expect(delivery?.headers['content-type']).toBe('application/json');
    expect(delivery?.headers['idempotency-key']).toBe(mutation.envelope.id);
    expect(delivery?.headers['webhook-id']).toBe(mutation.envelope.id);
    expect(JSON.parse(delivery?.body ?? '')).toEqual(toMessageEnvelope(mutation, 'hook'));
    expect(verifyWebhook(SECRET, delivery?.headers ?? {}, delivery?.body ?? '')).toBe(mutation.envelope.id);
  });

  it('fails if the receiver verifies with another secret (its 401 goes to the DLQ)', async () => {
    // GIVEN the WAL signs with a different secret than the receiver's
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'not-the-receivers-secret' } });
    const mutation = scripted([200]);
    // WHEN
    const apply = target().apply(mutation);
    // THEN
    await expect(apply).rejects.toThrow(PermanentTargetError);
    expect(receiver.deliveriesOf(mutation.envelope.id)[0]?.verified).toBe(false);
  });

  it.each([
    // GIVEN an answer worth retrying
    [500],
    [503],
    [408],
    [429],
  ])(
    'fails transiently if the receiver answers %p, with the status and the start of its body',
    async (status) => {
      // WHEN
      const apply = target().apply(scripted([status]));
      // THEN
      await expect(apply).rejects.toThrow(TransientTargetError);
      await expect(apply).rejects.toThrow(`answered ${status}: receiver says ${status} for mutation`);
    },
  );

  it.each([
    // GIVEN an answer that retrying cannot change
    [400, ''],
    [404, ''],
    [410, ''],
    [302, ' (redirects are not followed: set the final URL)'],
  ])('fails for good if the receiver answers %p', async (status, hint) => {
    // WHEN
    const apply = target().apply(scripted([status]));
    // THEN
    await expect(apply).rejects.toThrow(PermanentTargetError);
    await expect(apply).rejects.toThrow(
      new RegExp(`answered ${status}: receiver says ${status}.*${escapeRegExp(hint)}$`),
    );
  });

  it('fails transiently if no answer comes within timeoutSeconds', async () => {
    // GIVEN a receiver that holds the request for 3 s and a 1 s timeout
    const started = Date.now();
    // WHEN
    const apply = target({ timeoutSeconds: 1 }).apply(scripted(['hang']));
    // THEN
    await expect(apply).rejects.toThrow(TransientTargetError);
    await expect(apply).rejects.toThrow('no answer within 1 s');
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('fails transiently if nothing listens at the URL', async () => {
    // GIVEN a port nobody listens on
    const closed = await freePort();
    // WHEN
    const apply = target({ url: `http://127.0.0.1:${closed}/hook` }).apply(scripted([200]));
    // THEN
    await expect(apply).rejects.toThrow(TransientTargetError);
    await expect(apply).rejects.toThrow(/the request failed \(ECONNREFUSED\)/);
  });

  it('fails for good if the stored secret cannot sign (a whsec_ secret that is not base64)', async () => {
    // GIVEN a secret parameter holding a broken whsec_ value
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'whsec_not*base64!' } });
    // WHEN a mutation is sent
    const apply = target().apply(scripted([200]));
    // THEN the DLQ gets it at once with the reason (retrying cannot fix the secret)
    await expect(apply).rejects.toThrow(PermanentTargetError);
    await expect(apply).rejects.toThrow(/not base64/);
  });

  it('signs with a raw secret as receivers read it: without a trailing newline', async () => {
    // GIVEN the receiver's secret stored with a trailing newline, as editors save it
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: `${SECRET}\n` } });
    // WHEN a mutation is sent THEN the receiver (with the trimmed secret) verifies it and answers 200
    await expect(target().apply(scripted([200]))).resolves.toBe('applied');
  });

  it('fails for good if the URL is plain http:// outside local mode, before reading the secret', async () => {
    // GIVEN a container that does not allow http://
    // WHEN
    const apply = target({}, false).apply(scripted([200]));
    // THEN
    await expect(apply).rejects.toThrow(PermanentTargetError);
    await expect(apply).rejects.toThrow(/http:\/\/, which is refused outside local mode/);
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  it('fails with at most 200 characters of the body, on one line, and never a header or the secret', async () => {
    // GIVEN a receiver answering 400 with a long multi-line body
    const server = createServer((_request, response) => {
      response.writeHead(400, { 'x-token': 'header-value' });
      response.end(`first line\r\n${'x'.repeat(10_000)}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // WHEN
      const error = await target({ url: `http://127.0.0.1:${port}/` })
        .apply(scripted([200]))
        .catch((caught: unknown) => caught as Error);
      // THEN
      const excerpt = (error as Error).message.split('answered 400: ')[1] ?? '';
      expect(excerpt).toBe(`first line ${'x'.repeat(189)}…`);
      expect((error as Error).message).not.toMatch(/header-value|whsec_/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('plainHttpAllowed', () => {
  it.each([
    // GIVEN the variable the stack sets in local mode, another value, none
    [{ WAL_ALLOW_HTTP_TARGETS: 'true' }, true],
    [{ WAL_ALLOW_HTTP_TARGETS: '1' }, false],
    [{}, false],
  ])('reads %p as %p', (env, expected) => {
    // WHEN/THEN
    expect(plainHttpAllowed(env)).toBe(expected);
  });
});

describe('createTarget', () => {
  it('builds an HttpTarget for an http config', () => {
    // GIVEN
    const targetClients = clients as unknown as TargetClients;
    // WHEN
    const created = createTarget(config(), targetClients);
    // THEN
    expect(created).toBeInstanceOf(HttpTarget);
    expect(created.type).toBe('http');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseNamespaceConfig } from '#lambdas/shared/namespace-config';
import { createTargetClients } from '#lambdas/shared/target-clients';
import { createTarget } from '#lambdas/shared/targets/index';
import { TransientTargetError } from '#lambdas/shared/targets/target-errors';
import { loggedMutation } from '#test/support/fixtures';

/** A Lambda endpoint whose function takes 10 s to answer; counts the invokes it got. */
let server: Server;
let invokes = 0;
beforeAll(async () => {
  server = createServer((request, response) => {
    invokes++;
    request.resume();
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"ok":true}');
    }, 10_000).unref();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('a lambda target slower than its timeoutSeconds', () => {
  it('gives up after timeoutSeconds, transiently, having invoked the function once', async () => {
    // GIVEN the target clients pointed at the slow endpoint, and a target with a 1 s timeout
    const { port } = server.address() as AddressInfo;
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${port}`,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    try {
      const clients = createTargetClients(
        DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
      );
      const [config] = parseNamespaceConfig(
        {
          name: 'orders',
          targets: [
            {
              name: 'apply',
              type: 'lambda',
              functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:apply',
              timeoutSeconds: 1,
            },
          ],
        },
        'test',
      ).targets;
      if (!config) throw new Error('no target');
      // WHEN a mutation is applied
      const started = Date.now();
      const error = await createTarget(config, clients)
        .apply(loggedMutation(), { now: started, retentionDays: 30 })
        .catch((thrown: unknown) => thrown);
      // THEN it failed transiently after about 1 s, and the SDK did not run the function again
      expect(error).toBeInstanceOf(TransientTargetError);
      expect((error as Error).message).toMatch(/no answer within 1 s/);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(invokes).toBe(1);
    } finally {
      process.env = saved;
    }
  });
});

import { callWal } from '#src/cli/http-client';

describe('callWal', () => {
  const fetchSpy = jest.spyOn(globalThis, 'fetch');
  const saved = { ...process.env };

  // GIVEN a fetch that answers 200 and AWS credentials in the environment
  beforeEach(() => {
    fetchSpy.mockClear();
    fetchSpy.mockResolvedValue(new Response('{"ok":true}', { status: 200 }));
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret';
    delete process.env.AWS_SESSION_TOKEN;
  });

  afterAll(() => {
    fetchSpy.mockRestore();
    process.env = saved;
  });

  it('signs requests to a deployed stack with SigV4 for execute-api in the endpoint region', async () => {
    // WHEN a mutation is posted to an execute-api endpoint
    await callWal(
      'https://abc123.execute-api.eu-west-1.amazonaws.com',
      'POST',
      'v1/namespaces/orders/mutations',
      {
        payload: { id: 'a' },
      },
    );
    // THEN the request goes to the path, with a SigV4 authorization for the endpoint's region
    const [url, init] = fetchSpy.mock.calls[0] ?? [];
    const headers = (init?.headers ?? {}) as Record<string, string>;
    expect(String(url)).toBe(
      'https://abc123.execute-api.eu-west-1.amazonaws.com/v1/namespaces/orders/mutations',
    );
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/,
    );
    expect(headers['x-amz-content-sha256'] ?? headers['x-amz-date']).toBeDefined();
  });

  it('does not sign requests to the local runtime', async () => {
    // WHEN the local runtime is called
    await callWal('http://127.0.0.1:3000', 'GET', 'v1/health');
    // THEN no authorization header is sent
    const headers = (fetchSpy.mock.calls[0]?.[1]?.headers ?? {}) as Record<string, string>;
    expect(headers.authorization).toBeUndefined();
  });
});

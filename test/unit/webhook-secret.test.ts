import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { PermanentTargetError, TransientTargetError } from '#lambdas/shared/targets/target-errors';
import {
  clearSecretCache,
  readWebhookSecret,
  SECRET_MAX_AGE_MS,
} from '#lambdas/shared/targets/webhook-secret';

const ssmMock = mockClient(SSMClient);
const secretsMock = mockClient(SecretsManagerClient);
const clients = {
  ssm: new SSMClient({ region: 'us-east-1' }),
  secretsManager: new SecretsManagerClient({ region: 'us-east-1' }),
};
const PARAMETER = { ssmParameter: '/hooks/orders' };
const SECRET = { secretArn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:hooks/orders-AbCdEf' };

function awsError(name: string): Error {
  return Object.assign(new Error(`${name} happened`), { name });
}

beforeEach(() => {
  ssmMock.reset();
  secretsMock.reset();
  clearSecretCache();
});

describe('readWebhookSecret', () => {
  it('reads an SSM SecureString with decryption', async () => {
    // GIVEN
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'whsec_c2VjcmV0' } });
    // WHEN
    const secret = await readWebhookSecret('hook', PARAMETER, clients);
    // THEN
    expect(secret).toBe('whsec_c2VjcmV0');
    expect(ssmMock.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: '/hooks/orders',
      WithDecryption: true,
    });
  });

  it("reads a Secrets Manager secret's SecretString", async () => {
    // GIVEN
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: 'raw-secret' });
    // WHEN
    const secret = await readWebhookSecret('hook', SECRET, clients);
    // THEN
    expect(secret).toBe('raw-secret');
    expect(secretsMock.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: SECRET.secretArn,
    });
  });

  it('reads once within the max age and again after it (rotation is picked up)', async () => {
    // GIVEN a secret rotated after the first read
    ssmMock
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: 'old' } })
      .resolves({ Parameter: { Value: 'new' } });
    // WHEN reading at 0, just before the max age, and at it
    const first = await readWebhookSecret('hook', PARAMETER, clients, 0);
    const cached = await readWebhookSecret('hook', PARAMETER, clients, SECRET_MAX_AGE_MS - 1);
    const fresh = await readWebhookSecret('hook', PARAMETER, clients, SECRET_MAX_AGE_MS);
    // THEN
    expect([first, cached, fresh]).toEqual(['old', 'old', 'new']);
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('shares one read between concurrent deliveries', async () => {
    // GIVEN
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'shared' } });
    // WHEN
    const secrets = await Promise.all([1, 2, 3].map(() => readWebhookSecret('hook', PARAMETER, clients, 0)));
    // THEN
    expect(secrets).toEqual(['shared', 'shared', 'shared']);
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(1);
  });

  it.each([
    // GIVEN an error that an operator must fix
    ['ParameterNotFound', 'ssm'],
    ['AccessDeniedException', 'ssm'],
    ['ResourceNotFoundException', 'secretsmanager'],
    ['DecryptionFailure', 'secretsmanager'],
  ])('fails for good (DLQ) if the read fails with %s', async (name, service) => {
    // GIVEN
    ssmMock.on(GetParameterCommand).rejects(awsError(name));
    secretsMock.on(GetSecretValueCommand).rejects(awsError(name));
    // WHEN
    const read = readWebhookSecret('hook', service === 'ssm' ? PARAMETER : SECRET, clients);
    // THEN
    await expect(read).rejects.toThrow(PermanentTargetError);
    await expect(read).rejects.toThrow(new RegExp(`${name}.*redrive the DLQ`));
  });

  it('fails transiently (retried) if the read is throttled, and reads again on the next delivery', async () => {
    // GIVEN a throttled read, then a good one
    ssmMock
      .on(GetParameterCommand)
      .rejectsOnce(awsError('ThrottlingException'))
      .resolves({ Parameter: { Value: 'after-throttling' } });
    // WHEN
    const failed = readWebhookSecret('hook', PARAMETER, clients, 0);
    await expect(failed).rejects.toThrow(TransientTargetError);
    const next = await readWebhookSecret('hook', PARAMETER, clients, 1);
    // THEN the failure was not cached
    expect(next).toBe('after-throttling');
  });

  it('fails for good if the secret is binary (no SecretString)', async () => {
    // GIVEN a binary secret (no SecretString)
    secretsMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    // WHEN
    const read = readWebhookSecret('hook', SECRET, clients);
    // THEN
    await expect(read).rejects.toThrow(PermanentTargetError);
    await expect(read).rejects.toThrow(/binary secrets are not supported/);
  });
});

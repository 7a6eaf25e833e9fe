import {
  classifyAwsError,
  isPermanentAwsError,
  PermanentTargetError,
  TransientTargetError,
} from '#lambdas/shared/targets/target-errors';

/** An error shaped like the SDK's service exceptions. */
function awsError(name: string): Error {
  const error = new Error(`${name} happened`);
  error.name = name;
  return error;
}

describe('target errors', () => {
  it.each(['ValidationException', 'AccessDeniedException', 'ResourceNotFoundException', 'QueueDoesNotExist'])(
    'calls %s permanent',
    (name) => {
      // WHEN the error is classified THEN it is permanent, wrapped with the target and the cause
      expect(isPermanentAwsError(awsError(name))).toBe(true);
      const thrown = (() => {
        try {
          classifyAwsError('jobs', awsError(name));
        } catch (error) {
          return error;
        }
      })();
      expect(thrown).toBeInstanceOf(PermanentTargetError);
      expect(thrown).toMatchObject({ name: 'PermanentTargetError', target: 'jobs' });
      expect((thrown as Error).cause).toMatchObject({ name });
    },
  );

  it.each([
    'ThrottlingException',
    'ProvisionedThroughputExceededException',
    'InternalFailure',
    'TimeoutError',
  ])('leaves %s transient, as it was thrown', (name) => {
    // GIVEN a throttling, server or network error
    const error = awsError(name);
    // WHEN it is classified THEN it is rethrown unchanged (the delivery retries it)
    expect(isPermanentAwsError(error)).toBe(false);
    expect(() => classifyAwsError('jobs', error)).toThrow(error);
  });

  it('names both error classes and their target', () => {
    // WHEN each error is created THEN its name and message say which target and what it means
    expect(new PermanentTargetError('hook', 'HTTP 400')).toMatchObject({
      name: 'PermanentTargetError',
      message: 'target "hook" refused the mutation for good: HTTP 400',
    });
    expect(new TransientTargetError('hook', 'HTTP 503')).toMatchObject({
      name: 'TransientTargetError',
      message: 'target "hook" failed, will retry: HTTP 503',
    });
  });
});

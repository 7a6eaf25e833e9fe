/**
 * How a target says what a failure means. A {@link PermanentTargetError} goes straight to the DLQ with its
 * reason: retrying cannot help (the receiver refuses this mutation, the resource does not exist, access is
 * denied). Every other error is transient: the delivery is retried with the namespace's backoff.
 */
export class PermanentTargetError extends Error {
  constructor(
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`target "${target}" refused the mutation for good: ${message}`, options);
    this.name = 'PermanentTargetError';
  }
}

/** A failure worth retrying that a target found itself (a partial batch failure, a 5xx answer). */
export class TransientTargetError extends Error {
  constructor(
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`target "${target}" failed, will retry: ${message}`, options);
    this.name = 'TransientTargetError';
  }
}

/** AWS error names that say the request itself, or the target's setup, is wrong: retrying cannot help. */
const PERMANENT_AWS_ERRORS = new Set([
  'ValidationException',
  'ValidationError',
  'InvalidParameterValue',
  'InvalidParameterException',
  'InvalidParameter',
  'InvalidArgumentException',
  'InvalidArgument',
  'InvalidMessageContents',
  'AccessDenied',
  'AccessDeniedException',
  'AuthorizationError',
  'AuthorizationErrorException',
  'NotFound',
  'NotFoundException',
  'ResourceNotFoundException',
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'RequestTooLargeException',
  'RequestEntityTooLargeException',
]);

/**
 * True when an AWS SDK error means the target refuses this call as such. Throttling, 5xx and network
 * errors are transient. A missing resource or denied access is permanent for this attempt's message: the
 * DLQ keeps it with the reason, and an operator redrives it once the target is fixed.
 */
export function isPermanentAwsError(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && PERMANENT_AWS_ERRORS.has(name);
}

/** Throws `error` as a PermanentTargetError when it is one by {@link isPermanentAwsError}, else as it is. */
export function classifyAwsError(target: string, error: unknown): never {
  if (isPermanentAwsError(error)) {
    throw new PermanentTargetError(target, error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
  throw error;
}

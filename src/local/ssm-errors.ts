/**
 * Faults of the local SSM endpoint. `awsType` is the `__type` the real service sends, so the
 * AWS SDK raises its own exception class (e.g. `ParameterNotFound`) for it.
 */
export class SsmApiError extends Error {
  constructor(
    readonly awsType: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SsmApiError';
  }
}

export class ParameterNotFoundError extends SsmApiError {
  constructor(readonly parameterName: string) {
    super('ParameterNotFound', `Parameter ${parameterName} not found.`);
    this.name = 'ParameterNotFoundError';
  }
}

export class ParameterVersionNotFoundError extends SsmApiError {
  constructor(parameterName: string, selector: string) {
    super(
      'ParameterVersionNotFound',
      `Systems Manager could not find version ${selector} of ${parameterName}. ` +
        'The local endpoint keeps only the latest version.',
    );
    this.name = 'ParameterVersionNotFoundError';
  }
}

export class ParameterAlreadyExistsError extends SsmApiError {
  constructor(readonly parameterName: string) {
    super(
      'ParameterAlreadyExists',
      `The parameter ${parameterName} already exists. To overwrite this value, set the overwrite option in the request to true.`,
    );
    this.name = 'ParameterAlreadyExistsError';
  }
}

export class ParameterPatternMismatchError extends SsmApiError {
  constructor(parameterName: string, pattern: string) {
    super(
      'ParameterPatternMismatchException',
      `Parameter value for ${parameterName} failed to satisfy constraint: it must match the allowed pattern ${pattern}.`,
    );
    this.name = 'ParameterPatternMismatchError';
  }
}

export class SsmValidationError extends SsmApiError {
  constructor(message: string, options?: ErrorOptions) {
    super('ValidationException', message, options);
    this.name = 'SsmValidationError';
  }
}

export class UnknownOperationError extends SsmApiError {
  constructor(target: string | undefined) {
    super(
      'UnknownOperationException',
      target
        ? `The local SSM endpoint does not implement ${target}.`
        : 'The request has no X-Amz-Target header.',
    );
    this.name = 'UnknownOperationError';
  }
}

export class SerializationError extends SsmApiError {
  constructor(cause: unknown) {
    super('SerializationException', 'The request body is not valid JSON.', { cause });
    this.name = 'SerializationError';
  }
}

/** The persisted state file exists but cannot be read back. */
export class SsmStateLoadError extends Error {
  constructor(path: string, cause: unknown) {
    super(`Cannot load the local SSM state from ${path}: fix or delete the file.`, { cause });
    this.name = 'SsmStateLoadError';
  }
}

/** An SSM call failed (endpoint down, no access, no region). */
export class SsmCallError extends Error {
  constructor(
    readonly action: string,
    readonly target: string,
    options: { cause: unknown },
  ) {
    super(
      `SSM ${action} on ${target} failed: ${messageOf(options.cause)}. Check that the local WAL runs ("npm start"), ` +
        `or for a deployed stage your AWS credentials and region, and that they may call ssm:${action}.`,
      options,
    );
    this.name = 'SsmCallError';
  }
}

/** The namespace has no parameter: `wal ns` changes namespaces the stack created, it adds none. */
export class NamespaceNotFoundError extends Error {
  constructor(
    readonly namespace: string,
    readonly parameterName: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Namespace "${namespace}" has no parameter ${parameterName}. "wal ns list" shows the namespaces; a new one ` +
        'is added as config/<stage>/<namespace>.json and "cdk deploy" (locally: restart "wal local").',
      options,
    );
    this.name = 'NamespaceNotFoundError';
  }
}

/** `wal ns set <name> --file F`: F defines another namespace. */
export class NamespaceFileMismatchError extends Error {
  constructor(
    readonly namespace: string,
    readonly file: string,
    readonly fileNamespace: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${file} defines namespace "${fileNamespace}", not "${namespace}": pass the file of "${namespace}".`,
      options,
    );
    this.name = 'NamespaceFileMismatchError';
  }
}

/**
 * The new config would drop or change a resource the stack provisioned (`provision: true`), or asks for one the
 * stack has not provisioned: only `cdk deploy` (locally: a restart of `wal local`) creates or replaces one.
 */
export class ProvisionedResourceChangeError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `${source} cannot be applied to the parameter: ${issues.join('; ')}. Provisioned resources change through ` +
        'config/<stage>/ and "cdk deploy" (locally: a restart of "wal local").',
      options,
    );
    this.name = 'ProvisionedResourceChangeError';
  }
}

/** `wal ns enable|disable` on a parameter that holds no valid config: it must be fixed with `wal ns set`. */
export class InvalidCurrentConfigError extends Error {
  constructor(
    readonly parameterName: string,
    options: { cause: unknown },
  ) {
    super(
      `${parameterName} holds no valid namespace config (${messageOf(options.cause)}), so it cannot be toggled: ` +
        'write a valid one with "wal ns set <name> --file <name>.json".',
      options,
    );
    this.name = 'InvalidCurrentConfigError';
  }
}

function messageOf(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name;
  return String(cause);
}

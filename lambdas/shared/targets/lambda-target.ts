import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import type { LambdaTargetConfig } from '#lambdas/shared/namespace-config';
import type { MessageEnvelope } from './message-envelope';
import { MessageTarget } from './message-target';
import { classifyAwsError, PermanentTargetError, TransientTargetError } from './target-errors';

/**
 * The contract with a target function: throwing an error whose type (the runtime's `errorType`: the
 * error's name in Node.js, the exception class in Python, ...) is this refuses the mutation for good —
 * it goes to the DLQ with the error's message as the reason. Any other error is retried.
 */
export const LAMBDA_PERMANENT_ERROR_TYPE = 'PermanentError';

/** How long one invoke may run unless the target says (`timeoutSeconds`). */
export const DEFAULT_LAMBDA_TIMEOUT_SECONDS = 5;

/** How much of a function's error text the WAL keeps (DLQ reason, logs): never its whole answer. */
const MAX_FUNCTION_ERROR_CHARS = 512;

/** Invoke errors, beyond the common ones, that retrying the same payload cannot fix. */
const PERMANENT_LAMBDA_ERRORS = new Set([
  'InvalidRequestContentException',
  'InvalidParameterValueException',
  'UnsupportedMediaTypeException',
  'RecursiveInvocationException',
]);

/**
 * Invokes the function synchronously (RequestResponse) with the envelope as its event. Throttling (429)
 * and Lambda's 5xx are retried; a payload too large, a missing function or denied access go to the DLQ.
 * A function error is retried unless the function says it is permanent ({@link LAMBDA_PERMANENT_ERROR_TYPE}).
 */
export class LambdaTarget extends MessageTarget {
  readonly type = 'lambda';
  readonly name: string;

  constructor(
    private readonly config: LambdaTargetConfig,
    /** The client, created on first send (ingest only validates and never creates it). */
    private readonly lambda: () => LambdaClient,
  ) {
    super();
    this.name = config.name;
  }

  protected async send(envelope: MessageEnvelope): Promise<void> {
    let answer: InvokeCommandOutput;
    try {
      answer = await this.invoke(envelope);
    } catch (error) {
      if (PERMANENT_LAMBDA_ERRORS.has((error as { name?: string } | undefined)?.name ?? '')) {
        throw new PermanentTargetError(this.name, (error as Error).message, { cause: error });
      }
      classifyAwsError(this.name, error);
    }
    if (answer.FunctionError === undefined) return;
    const { errorType, errorMessage } = functionErrorOf(answer.Payload);
    const text = bounded(`${answer.FunctionError} function error ${errorType}: ${errorMessage}`);
    if (errorType === LAMBDA_PERMANENT_ERROR_TYPE) throw new PermanentTargetError(this.name, text);
    throw new TransientTargetError(this.name, text);
  }

  /**
   * One invoke, bounded by the target's timeout. The client makes one attempt with a request timeout longer
   * than any target's (see createTargetClients): a slow function is not run again by the SDK within an attempt.
   */
  private async invoke(envelope: MessageEnvelope): Promise<InvokeCommandOutput> {
    const timeoutSeconds = this.config.timeoutSeconds ?? DEFAULT_LAMBDA_TIMEOUT_SECONDS;
    try {
      return await this.lambda().send(
        new InvokeCommand({
          FunctionName: this.config.functionArn,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(envelope), 'utf8'),
        }),
        { abortSignal: AbortSignal.timeout(timeoutSeconds * 1000) },
      );
    } catch (error) {
      if ((error as { name?: string } | undefined)?.name !== 'AbortError') throw error;
      throw new TransientTargetError(
        this.name,
        `no answer within ${timeoutSeconds} s (timeoutSeconds); the function may still finish: dedup by id`,
        { cause: error },
      );
    }
  }
}

/** The runtime's error answer (`{"errorType", "errorMessage", ...}`), read from a bounded prefix only. */
function functionErrorOf(payload: Uint8Array | undefined): { errorType: string; errorMessage: string } {
  const fallback = { errorType: 'unknown', errorMessage: 'no readable error in the answer' };
  if (payload === undefined || payload.byteLength === 0) return fallback;
  // A runtime's error object is small; a larger answer is not one, and is not read whole.
  if (payload.byteLength > 64 * 1024) return { ...fallback, errorMessage: 'answer too large to read' };
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return fallback;
    const { errorType, errorMessage } = parsed as Record<string, unknown>;
    return {
      errorType: typeof errorType === 'string' ? bounded(errorType, 128) : fallback.errorType,
      errorMessage: typeof errorMessage === 'string' ? bounded(errorMessage) : fallback.errorMessage,
    };
  } catch {
    return fallback;
  }
}

function bounded(text: string, max = MAX_FUNCTION_ERROR_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

import { dynamoError } from './wire';

/** How long DynamoDB remembers a ClientRequestToken after the call that used it completed. */
const TOKEN_WINDOW_MS = 10 * 60 * 1000;

/**
 * The ClientRequestTokens of the transactions applied in the last 10 minutes (in memory: a restart forgets them).
 * A failed transaction is not remembered, so a retry with its token runs again.
 */
export class ClientTokens {
  private readonly applied = new Map<string, { request: string; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** true when this token already applied this same request; throws IdempotentParameterMismatchException for another. */
  alreadyApplied(token: string | undefined, request: string): boolean {
    if (token === undefined) return false;
    this.forgetExpired();
    const seen = this.applied.get(token);
    if (seen === undefined) return false;
    if (seen.request !== request) {
      throw dynamoError('IdempotentParameterMismatchException', {
        Message: 'The request uses the same client token as a previous, but non-identical request.',
      });
    }
    return true;
  }

  remember(token: string | undefined, request: string): void {
    if (token !== undefined) this.applied.set(token, { request, at: this.now() });
  }

  private forgetExpired(): void {
    const oldest = this.now() - TOKEN_WINDOW_MS;
    for (const [token, { at }] of this.applied) {
      if (at < oldest) this.applied.delete(token);
    }
  }
}

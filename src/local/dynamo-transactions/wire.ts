/** DynamoDB's JSON wire format (what the SDK sends and receives), as far as transactions need it. */
export type AttributeValue = Record<string, unknown>;
export type WireItem = Record<string, AttributeValue>;

/** An error answer in the shape the SDK v3 deserializes: HTTP status and JSON body with `__type`. */
export class DynamoWireError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message ?? body.Message ?? body.__type));
    this.name = 'DynamoWireError';
  }

  /** The exception's short name, e.g. ConditionalCheckFailedException. */
  get type(): string {
    return (
      String(this.body.__type ?? '')
        .split('#')
        .pop() ?? ''
    );
  }
}

export function validationError(message: string): DynamoWireError {
  return new DynamoWireError(400, { __type: 'com.amazon.coral.validate#ValidationException', message });
}

export function dynamoError(type: string, fields: Record<string, unknown>): DynamoWireError {
  return new DynamoWireError(400, { __type: `com.amazonaws.dynamodb.v20120810#${type}`, ...fields });
}

/** Calls one DynamoDB operation on dynalite directly (behind the lock), answering its JSON or throwing its error. */
export type DynamoCall = (
  operation: string,
  input: Record<string, unknown>,
) => Promise<Record<string, unknown>>;

export function dynaliteCaller(endpoint: string): DynamoCall {
  return async (operation, input) => {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-amz-json-1.0',
        'X-Amz-Target': `DynamoDB_20120810.${operation}`,
        'X-Amz-Date': '20260101T000000Z',
        // dynalite checks that a SigV4 header is there, not the signature.
        Authorization:
          'AWS4-HMAC-SHA256 Credential=local/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify(input),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new DynamoWireError(response.status, body);
    return body;
  };
}

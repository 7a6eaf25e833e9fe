/**
 * Counts the AWS requests an SDK v3 client sends, by service and operation, with the billing units AWS charges
 * for them (DynamoDB capacity units, Kinesis kilobytes and PUT payload units, SQS 64 KB chunks). The middleware
 * sits in the `deserialize` step, inside the SDK's retry loop (`finalizeRequest`): every attempt that goes on the
 * wire counts, retries included, as AWS bills them.
 */

/** The part of an SDK v3 client the counter needs. */
interface CountableClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { clientName?: string; commandName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { step: 'deserialize' | 'initialize'; name: string; priority?: 'high' | 'low' },
    ): void;
  };
}

/** What one snapshot of the counter holds. */
export interface RequestCounts {
  /** Attempts by `Service.Operation` (`DynamoDB.PutItem`). */
  readonly requests: Readonly<Record<string, number>>;
  /** Attempts by `Service.Operation:resource` (table, queue or stream name). */
  readonly byResource: Readonly<Record<string, number>>;
  /** Billing units by name (`DynamoDB.WriteUnits:<table>`, `Kinesis.DataInKB`, `SQS.Requests64KB`). */
  readonly units: Readonly<Record<string, number>>;
}

const KB = 1024;
/** Kinesis on-demand bills each record rounded up to 1 KB; provisioned bills 25 KB PUT payload units. */
const KINESIS_PAYLOAD_UNIT_BYTES = 25 * KB;
/** SQS bills each 64 KB chunk of a payload as one request. */
const SQS_CHUNK_BYTES = 64 * KB;

const DYNAMODB_WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);
const DYNAMODB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);

type Input = Record<string, unknown>;

export class RequestCounter {
  private readonly requests = new Map<string, number>();
  private readonly byResource = new Map<string, number>();
  private readonly units = new Map<string, number>();

  /**
   * @param indexWritesPerTable extra write units per item write of a table: one per global secondary index
   *   that projects it (dynalite reports the table's units only).
   */
  constructor(private readonly indexWritesPerTable: Readonly<Record<string, number>> = {}) {}

  /** Counts every attempt `client` sends from now on; returns the client. */
  attach<Client>(client: Client): Client {
    const stack = (client as unknown as CountableClient).middlewareStack;
    // Asks DynamoDB for the capacity each call consumes; it changes no effect of the call.
    stack.add(
      (next, context) => async (args) => {
        if (serviceOf(context.clientName) === 'DynamoDB') {
          const input = (args as { input?: Input }).input;
          if (input && !input.ReturnConsumedCapacity) input.ReturnConsumedCapacity = 'TOTAL';
        }
        return next(args);
      },
      { step: 'initialize', name: 'benchConsumedCapacity', priority: 'low' },
    );
    stack.add(
      (next, context) => async (args) => {
        const service = serviceOf(context.clientName);
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const input = ((args as { input?: Input }).input ?? {}) as Input;
        this.countAttempt(service, operation, input);
        const result = await next(args);
        if (service === 'DynamoDB') {
          this.addCapacity(operation, input, (result as { output?: Input }).output?.ConsumedCapacity);
        }
        return result;
      },
      // Outside the deserializer (so the parsed output is there), inside the retry loop (finalizeRequest).
      { step: 'deserialize', name: 'benchRequestCounter', priority: 'high' },
    );
    return client;
  }

  /** Adds `amount` to a billing unit (also for requests counted outside an SDK client, such as invocations). */
  add(unit: string, amount = 1): void {
    this.units.set(unit, (this.units.get(unit) ?? 0) + amount);
  }

  /** Counts one request made on the WAL's behalf outside its own clients (a Lambda poller's receive). */
  countRequest(service: string, operation: string, resource?: string): void {
    increment(this.requests, `${service}.${operation}`, 1);
    if (resource) increment(this.byResource, `${service}.${operation}:${resource}`, 1);
  }

  snapshot(): RequestCounts {
    return {
      requests: Object.fromEntries(this.requests),
      byResource: Object.fromEntries(this.byResource),
      units: Object.fromEntries(this.units),
    };
  }

  reset(): void {
    this.requests.clear();
    this.byResource.clear();
    this.units.clear();
  }

  private countAttempt(service: string, operation: string, input: Input): void {
    this.countRequest(service, operation, resourceOf(input));
    if (service === 'Kinesis') this.addKinesisUnits(input);
    if (service === 'SQS') this.add('SQS.Requests64KB', sqsChunks(operation, input));
  }

  private addKinesisUnits(input: Input): void {
    const records = Array.isArray(input.Records) ? (input.Records as Input[]) : [input];
    for (const record of records) {
      // Kinesis counts the partition key with the data blob.
      const bytes = byteLength(record.Data) + byteLength(record.PartitionKey);
      this.add('Kinesis.DataInBytes', bytes);
      this.add('Kinesis.DataInKB', Math.max(1, Math.ceil(bytes / KB)));
      this.add('Kinesis.PutPayloadUnits', Math.max(1, Math.ceil(bytes / KINESIS_PAYLOAD_UNIT_BYTES)));
    }
  }

  private addCapacity(operation: string, input: Input, consumed: unknown): void {
    const kind = DYNAMODB_WRITES.has(operation)
      ? 'Write'
      : DYNAMODB_READS.has(operation)
        ? 'Read'
        : undefined;
    if (!kind) return;
    const entries = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as {
      TableName?: string;
      CapacityUnits?: number;
    }[];
    for (const entry of entries) {
      const table = entry.TableName ?? String(input.TableName ?? 'unknown');
      this.add(`DynamoDB.${kind}Units:${table}`, entry.CapacityUnits ?? 0);
      if (kind === 'Write')
        this.add(`DynamoDB.WriteUnits:${table}#indexes`, this.indexWritesPerTable[table] ?? 0);
    }
  }
}

function increment(map: Map<string, number>, key: string, amount: number): void {
  map.set(key, (map.get(key) ?? 0) + amount);
}

/** `DynamoDBClient` -> `DynamoDB`. */
function serviceOf(clientName: string | undefined): string {
  return (clientName ?? 'Unknown').replace(/Client$/, '');
}

/** The table, queue or stream a call addresses, when it names one. */
function resourceOf(input: Input): string | undefined {
  if (typeof input.TableName === 'string') return input.TableName;
  if (input.RequestItems && typeof input.RequestItems === 'object') {
    return Object.keys(input.RequestItems).join(',');
  }
  if (typeof input.QueueUrl === 'string') return input.QueueUrl.split('/').pop();
  if (typeof input.StreamName === 'string') return input.StreamName;
  if (typeof input.Name === 'string') return input.Name;
  return undefined;
}

function sqsChunks(operation: string, input: Input): number {
  if (operation === 'SendMessage')
    return Math.max(1, Math.ceil(byteLength(input.MessageBody) / SQS_CHUNK_BYTES));
  if (operation === 'SendMessageBatch' && Array.isArray(input.Entries)) {
    const bytes = (input.Entries as Input[]).reduce((sum, entry) => sum + byteLength(entry.MessageBody), 0);
    return Math.max(1, Math.ceil(bytes / SQS_CHUNK_BYTES));
  }
  return 1;
}

function byteLength(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (value instanceof Uint8Array) return value.byteLength;
  return 0;
}

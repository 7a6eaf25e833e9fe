import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { UsageError } from '#src/cli/usage-error';
import { DEFAULT_LOCAL_REGION } from '#src/local/constants';
import { QueueNotFoundError, SqsCallError } from './errors';

/** Where `wal local` serves SQS unless --sqs-port says otherwise. */
export const DEFAULT_SQS_ENDPOINT = 'http://127.0.0.1:9324';

export interface QueueRef {
  readonly url: string;
  readonly arn: string;
  readonly name: string;
}

/** The two queues a redrive needs: where dead letters wait, and where they are applied again. */
export interface DeadLetterQueues {
  readonly deadLetter: QueueRef;
  readonly retry: QueueRef;
}

/**
 * The local runtime's queue names for a stage (src/local/runtime/provision.ts): the DLQ has no fixed
 * name, so it is `<stack>-<logicalId>` and the logical id ends with a CDK hash; the retry queue is
 * `<stack>-retry-<stack instance>` (lib/wal-queues.ts; the instance part is `local` locally).
 */
export function localQueueNames(stage: string): { deadLetterPrefix: string; retryPrefix: string } {
  const stackName = `ServerlessWal-${stage}`;
  return { deadLetterPrefix: `${stackName}-QueuesDeadLetterQueue`, retryPrefix: `${stackName}-retry-` };
}

/** Finds the stage's DLQ and retry queue on an SQS endpoint (the local runtime) by their names. */
export async function discoverLocalQueues(
  sqs: SQSClient,
  stage: string,
  endpoint: string,
): Promise<DeadLetterQueues> {
  const names = localQueueNames(stage);
  const urls = await listQueueUrls(sqs, `ServerlessWal-${stage}-`, endpoint);
  const byName = new Map(urls.map((url) => [queueNameOf(url), url]));
  const found = [...byName.keys()].sort();
  const deadLetterName = found.find((name) => name.startsWith(names.deadLetterPrefix));
  const deadLetterUrl = deadLetterName === undefined ? undefined : byName.get(deadLetterName);
  if (!deadLetterUrl) {
    throw new QueueNotFoundError('dead-letter', stage, `${names.deadLetterPrefix}*`, endpoint, found);
  }
  const retryName = found.find((name) => name.startsWith(names.retryPrefix));
  const retryUrl = retryName === undefined ? undefined : byName.get(retryName);
  if (!retryUrl) throw new QueueNotFoundError('retry', stage, `${names.retryPrefix}*`, endpoint, found);
  return { deadLetter: await queueRef(sqs, deadLetterUrl), retry: await queueRef(sqs, retryUrl) };
}

/** The queues of a deployed stack, from its DeadLetterQueueUrl and RetryQueueUrl outputs. */
export async function queuesFromUrls(
  sqs: SQSClient,
  deadLetterUrl: string,
  retryUrl: string,
): Promise<DeadLetterQueues> {
  return { deadLetter: await queueRef(sqs, deadLetterUrl), retry: await queueRef(sqs, retryUrl) };
}

export interface SqsClientOptions {
  /** An explicit SQS endpoint (--sqs-endpoint). */
  readonly endpoint?: string;
  /** A queue URL given on the command line: an AWS one selects real AWS in its region. */
  readonly queueUrl?: string;
}

/**
 * The SQS client for the command: real AWS (default credential chain, the queue URL's region) for an
 * `sqs.<region>.amazonaws.com` URL, else the local emulator with dummy credentials.
 */
export function createSqsClient(options: SqsClientOptions): { sqs: SQSClient; endpoint: string } {
  if (options.endpoint !== undefined) parseUrl(options.endpoint, 'SQS endpoint', DEFAULT_SQS_ENDPOINT);
  const region = options.queueUrl ? awsRegionOf(options.queueUrl) : undefined;
  if (region !== undefined && options.endpoint === undefined) {
    return { sqs: new SQSClient({ region }), endpoint: `https://sqs.${region}.amazonaws.com` };
  }
  const endpoint = options.endpoint ?? (options.queueUrl ? originOf(options.queueUrl) : DEFAULT_SQS_ENDPOINT);
  if (region !== undefined) return { sqs: new SQSClient({ region, endpoint }), endpoint };
  const sqs = new SQSClient({
    region: DEFAULT_LOCAL_REGION,
    endpoint,
    // The emulator checks no signature; dummy keys keep real ones out of a local call.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return { sqs, endpoint };
}

/**
 * `https://sqs.eu-west-1.amazonaws.com/...` (or the legacy `eu-west-1.queue.amazonaws.com`) -> eu-west-1;
 * another AWS host -> AWS_REGION; not AWS (the emulator) -> undefined.
 */
export function awsRegionOf(queueUrl: string): string | undefined {
  const host = parseUrl(queueUrl).hostname;
  const match =
    /^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host) ??
    /^([a-z0-9-]+)\.queue\.amazonaws\.com$/.exec(host);
  if (match?.[1]) return match[1];
  if (!/\.amazonaws\.com(\.cn)?$/.test(host)) return undefined;
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError(`Cannot tell the region of ${queueUrl}: set AWS_REGION.`);
  return region;
}

export function queueNameOf(url: string): string {
  return parseUrl(url).pathname.split('/').filter(Boolean).pop() ?? '';
}

/** A queue's name and ARN (GetQueueAttributes QueueArn) from its URL. */
export async function queueRef(sqs: SQSClient, url: string): Promise<QueueRef> {
  try {
    const answer = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    );
    const arn = answer.Attributes?.QueueArn;
    if (!arn) throw new Error('the answer has no QueueArn');
    return { url, arn, name: queueNameOf(url) };
  } catch (error) {
    throw new SqsCallError('GetQueueAttributes', url, { cause: error });
  }
}

async function listQueueUrls(sqs: SQSClient, prefix: string, endpoint: string): Promise<string[]> {
  const urls: string[] = [];
  let nextToken: string | undefined;
  do {
    try {
      const answer = await sqs.send(
        new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 1000, NextToken: nextToken }),
      );
      urls.push(...(answer.QueueUrls ?? []));
      nextToken = answer.NextToken;
    } catch (error) {
      throw new SqsCallError('ListQueues', endpoint, { cause: error });
    }
  } while (nextToken);
  return urls;
}

function originOf(url: string): string {
  return parseUrl(url).origin;
}

const QUEUE_URL_EXAMPLE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/name';

function parseUrl(text: string, what = 'queue URL', example = QUEUE_URL_EXAMPLE): URL {
  try {
    return new URL(text);
  } catch {
    throw new UsageError(`"${text}" is not a valid ${what}; expected e.g. ${example}.`);
  }
}

import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import { UsageError } from '#src/cli/usage-error';
import { DEFAULT_LOCAL_REGION } from '#src/local/constants';
import { readStackOutputs, walStackName } from '#src/outputs/outputs-file';
import { SqsCallError } from './errors';

/** Where `wal local` serves SQS unless --sqs-port says otherwise. */
const DEFAULT_SQS_ENDPOINT = 'http://127.0.0.1:9324';

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

/** The URLs of the queues a command works on; the retry queue's only when known. */
export interface DeadLetterQueueUrls {
  readonly deadLetter: string;
  readonly retry?: string;
}

/** The stage's DLQ and retry queue from a stack outputs file (the local runtime's, or `cdk deploy`'s). */
export function queueUrlsFromOutputs(outputsFile: string, stage: string): Required<DeadLetterQueueUrls> {
  const outputs = readStackOutputs(outputsFile, walStackName(stage));
  return {
    deadLetter: outputs.get(WAL_OUTPUTS.deadLetterQueueUrl),
    retry: outputs.get(WAL_OUTPUTS.retryQueueUrl),
  };
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
function awsRegionOf(queueUrl: string): string | undefined {
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

function queueNameOf(url: string): string {
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

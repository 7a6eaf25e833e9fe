import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import type { EventBridgeTargetConfig } from '#lambdas/shared/namespace-config';
import type { MessageEnvelope } from './message-envelope';
import { MessageTarget } from './message-target';
import { classifyAwsError, PermanentTargetError, TransientTargetError } from './target-errors';

/**
 * PutEvents entry error codes worth retrying; EventBridge documents every other code (AccessDenied,
 * InvalidArgument, MalformedDetail, NotAuthorizedForSource...) as not retryable.
 */
const TRANSIENT_ENTRY_ERRORS = new Set(['InternalFailure', 'ThrottlingException']);

/**
 * Puts one event per mutation on the bus: `source` and `detail-type` from the config, the envelope as
 * `detail`. PutEvents answers 200 even when its entry failed, so the entry's error code decides.
 */
export class EventBridgeTarget extends MessageTarget {
  readonly type = 'eventbridge';
  readonly name: string;

  constructor(
    private readonly config: EventBridgeTargetConfig,
    /** The client, created on first send (ingest only validates and never creates it). */
    private readonly eventBridge: () => EventBridgeClient,
  ) {
    super();
    this.name = config.name;
  }

  protected async send(envelope: MessageEnvelope): Promise<void> {
    const busArn = this.config.eventBusArn;
    if (busArn === undefined) {
      throw new PermanentTargetError(
        this.name,
        'no eventBusArn: the stack fills it in for provisioned buses',
      );
    }
    let answer: PutEventsCommandOutput;
    try {
      answer = await this.eventBridge().send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: busArn,
              Source: this.config.source,
              DetailType: this.config.detailType,
              Detail: JSON.stringify(envelope),
            },
          ],
        }),
      );
    } catch (error) {
      classifyAwsError(this.name, error);
    }
    if ((answer.FailedEntryCount ?? 0) === 0) return;
    const entry = answer.Entries?.[0];
    const code = entry?.ErrorCode ?? 'unknown';
    const message = `PutEvents entry failed with ${code}: ${entry?.ErrorMessage ?? 'no message'}`;
    if (entry?.ErrorCode !== undefined && !TRANSIENT_ENTRY_ERRORS.has(entry.ErrorCode)) {
      throw new PermanentTargetError(this.name, message);
    }
    throw new TransientTargetError(this.name, message);
  }
}

import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { effectiveTime, type LoggedMutation, walOrder } from '#lambdas/shared/envelope';
import { expiresAt } from '#lambdas/shared/ledger';
import {
  DAY_MS,
  type DynamoDbTargetConfig,
  LEDGER_MIN_RETENTION_DAYS,
  SHORTEST_HISTORY_MS,
} from '#lambdas/shared/namespace-config';
import { DynamoDbValidator, isItem } from './dynamodb-validator';
import {
  applyToHistory,
  compactOrder,
  type HistoryContext,
  type Item,
  type OrderedMutation,
  UnorderableMutationError,
} from './item-history';
import type { ApplyContext, ApplyOutcome, Target } from './target';
import { ORDER_ATTRIBUTE, REVISION_ATTRIBUTE } from './wal-attributes';

/** The condition of a conditional put. */
type WriteCondition = Pick<
  PutCommandInput,
  'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
>;

/** A put with its condition: what a transaction's `Put` action holds too. */
export type ConditionalPut = Pick<PutCommandInput, 'TableName' | 'Item'> & WriteCondition;

/** What one read-modify-write step comes to: the put to write, or why nothing is written. */
export type PlannedWrite =
  | { readonly outcome: 'applied'; readonly put: ConditionalPut & { readonly Item: Item } }
  | { readonly outcome: Exclude<ApplyOutcome, 'applied'> };

export class DynamoDbTarget extends DynamoDbValidator implements Target {
  constructor(
    config: DynamoDbTargetConfig,
    private readonly documentClient: DynamoDBDocumentClient,
  ) {
    super(config);
  }

  async apply(mutation: LoggedMutation, context: ApplyContext): Promise<ApplyOutcome> {
    const { envelope } = mutation;
    const ordered = this.ordered(mutation);
    // Fast path: a put or delete newer than everything the item holds replaces it in one conditional write.
    const fastPath =
      envelope.op === 'delete' || (envelope.op === 'put' && !mayOutliveTombstones(mutation, context));
    if (fastPath && (await this.replaceIfNewest(ordered, this.history(context)))) return 'applied';
    for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
      const write = await this.planWrite(mutation, context, newRevision(envelope.id));
      if (write.outcome !== 'applied') return write.outcome;
      if (await this.putIfUnchanged(write.put)) return 'applied';
    }
    throw new ConcurrentItemWriteError(`target "${this.name}"`, envelope.id, MAX_WRITE_ROUNDS);
  }

  /**
   * One read-modify-write step, without the write: reads the item (strongly consistent), places the mutation in
   * its history ({@link applyToHistory}) and returns the put to write, conditional on the item being unchanged
   * since this read, or why nothing is to be written. Single-item applies send the put on its own; multi-item
   * mutations send the puts of all their DynamoDB items in one transaction (dynamodb-transaction.ts).
   */
  async planWrite(mutation: LoggedMutation, context: ApplyContext, revision: string): Promise<PlannedWrite> {
    const ordered = this.ordered(mutation);
    const stored = await this.read(ordered.payload);
    if (stored === undefined && ordered.op !== 'delete' && mayOutliveTombstones(mutation, context)) {
      const ageMs = context.now - effectiveTime(mutation.envelope);
      throw new UnorderableMutationError(
        `it took effect ${Math.floor(ageMs / DAY_MS)} days ago and its key holds nothing: a newer delete of ` +
          `the key whose tombstone has expired (tombstones live at least ${LEDGER_MIN_RETENTION_DAYS} days) ` +
          'may exist, and applying it could undo that delete',
      );
    }
    const result = applyToHistory(stored, ordered, { ...this.history(context), revision });
    if (result.outcome !== 'applied') return result;
    return {
      outcome: 'applied',
      put: { TableName: this.tableName(), Item: result.item, ...this.unchangedCondition(stored) },
    };
  }

  private history(context: ApplyContext): Omit<HistoryContext, 'revision'> {
    return {
      keyAttributes: this.keyAttributes,
      tombstoneExpiresAt: expiresAt(context.now, context.retentionDays),
    };
  }

  private ordered(mutation: LoggedMutation): OrderedMutation {
    const { envelope } = mutation;
    if (!isItem(envelope.payload)) {
      throw new Error(`mutation ${envelope.id}: payload is not an object`);
    }
    const padded = walOrder(mutation);
    return {
      id: envelope.id,
      op: envelope.op,
      order: compactOrder(padded),
      paddedOrder: padded,
      payload: envelope.payload,
      set: envelope.update?.set,
      add: envelope.update?.add,
    };
  }

  /** Writes the put or tombstone if the item holds no later mutation; false when it does. */
  private async replaceIfNewest(
    mutation: OrderedMutation,
    history: Omit<HistoryContext, 'revision'>,
  ): Promise<boolean> {
    const result = applyToHistory(undefined, mutation, { ...history, revision: newRevision(mutation.id) });
    if (result.outcome !== 'applied') return false;
    return this.putIfUnchanged({
      TableName: this.tableName(),
      Item: result.item,
      ConditionExpression: 'attribute_not_exists(#order) OR #order < :order',
      ExpressionAttributeNames: { '#order': ORDER_ATTRIBUTE },
      ExpressionAttributeValues: { ':order': mutation.paddedOrder },
    });
  }

  private async read(payload: Item): Promise<Item | undefined> {
    const answer = await this.documentClient.send(
      new GetCommand({ TableName: this.tableName(), Key: this.keyOf(payload), ConsistentRead: true }),
    );
    return answer.Item;
  }

  /** The optimistic condition of a read-modify-write: the item is still as read (its revision, or its absence). */
  private unchangedCondition(stored: Item | undefined): WriteCondition {
    const revision = stored?.[REVISION_ATTRIBUTE];
    const partitionKey = this.config.key.partitionKey;
    if (stored === undefined) {
      return {
        ConditionExpression: 'attribute_not_exists(#key)',
        ExpressionAttributeNames: { '#key': partitionKey },
      };
    }
    if (revision === undefined) {
      return {
        ConditionExpression: 'attribute_exists(#key) AND attribute_not_exists(#rev)',
        ExpressionAttributeNames: { '#key': partitionKey, '#rev': REVISION_ATTRIBUTE },
      };
    }
    return {
      ConditionExpression: '#rev = :rev',
      ExpressionAttributeNames: { '#rev': REVISION_ATTRIBUTE },
      ExpressionAttributeValues: { ':rev': revision },
    };
  }

  /** Sends a conditional put; false when its condition fails. */
  private async putIfUnchanged(put: ConditionalPut): Promise<boolean> {
    try {
      await this.documentClient.send(new PutCommand(put));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private keyOf(payload: Item): Item {
    return Object.fromEntries(this.keyAttributes.map((attribute) => [attribute, payload[attribute]]));
  }

  private tableName(): string {
    if (!this.config.tableName) {
      throw new Error(`target "${this.name}" has no tableName: the stack fills it in for provisioned tables`);
    }
    return this.config.tableName;
  }
}

// Concurrent writers of one item retry their read-modify-write; past this, the delivery is retried.
export const MAX_WRITE_ROUNDS = 5;

/** A fresh `_walRev` for a write of this mutation. */
export function newRevision(mutationId: string): string {
  return `${mutationId}.${randomUUID()}`;
}

/**
 * A put or update of a key that holds nothing might meet a key whose delete's tombstone has expired, if it is
 * older than the shortest life a tombstone can have: it would undo that delete.
 */
function mayOutliveTombstones(mutation: LoggedMutation, context: ApplyContext): boolean {
  return context.now - effectiveTime(mutation.envelope) > SHORTEST_HISTORY_MS;
}

/** Other writers kept changing the items between this delivery's read and write. */
export class ConcurrentItemWriteError extends Error {
  constructor(where: string, mutationId: string, rounds: number) {
    super(`${where}: the item changed under mutation ${mutationId} ${rounds} times in a row; retrying later`);
    this.name = 'ConcurrentItemWriteError';
  }
}

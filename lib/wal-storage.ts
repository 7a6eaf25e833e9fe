import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE } from '#lambdas/shared/ledger-schema';
import { DEFAULT_REMOVAL_POLICY, DEFAULT_STREAM_RETENTION } from './wal-defaults';

export interface WalStorageProps {
  /**
   * What happens to the key, the stream and the ledger when they leave the stack.
   * @default DEFAULT_REMOVAL_POLICY (RemovalPolicy.RETAIN)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long the stream keeps records.
   * @default DEFAULT_STREAM_RETENTION (24 hours)
   */
  readonly streamRetention?: Duration;
}

/**
 * The durable core of the WAL: the customer-managed KMS key that encrypts every data store of the
 * stack, the Kinesis stream the mutations are prepared on, and the ledger table whose conditional
 * write is the commit point.
 */
export class WalStorage extends Construct {
  /** Encrypts the stream, the ledger, the queues and the provisioned target tables. Rotated yearly. */
  readonly key: kms.Key;
  /** On-demand, KMS-encrypted; partition key `namespace#partitionKey` keeps per-key order. */
  readonly stream: kinesis.Stream;
  /** How long {@link stream} keeps records; a failed stream batch must be re-read within it. */
  readonly streamRetention: Duration;
  /**
   * Keyed by `pk` (namespace#idempotencyKey), no index: an index would cost every commit a second write
   * (GET by id reads `namespace#id`, or `namespace#key` with the client's key).
   */
  readonly ledger: dynamodb.Table;

  constructor(scope: Construct, id: string, props: WalStorageProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? DEFAULT_REMOVAL_POLICY;
    this.streamRetention = props.streamRetention ?? DEFAULT_STREAM_RETENTION;

    this.key = new kms.Key(this, 'Key', {
      description: 'serverless-wal: encrypts the stream, ledger, queues and target tables',
      enableKeyRotation: true,
      removalPolicy,
    });

    this.stream = new kinesis.Stream(this, 'Stream', {
      streamMode: kinesis.StreamMode.ON_DEMAND,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: this.key,
      retentionPeriod: this.streamRetention,
      removalPolicy,
    });

    this.ledger = new dynamodb.Table(this, 'Ledger', {
      partitionKey: { name: LEDGER_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      timeToLiveAttribute: LEDGER_TTL_ATTRIBUTE,
      // A retained table must not be deleted by hand by accident either.
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
  }

  /**
   * Prepare and commit: put records on the stream, read and write the ledger; read the stream too, for
   * `GET .../mutations/{id}?view=full` (GetShardIterator + GetRecords of one record).
   */
  grantAppend(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grantReadWrite(grantee).combine(this.ledger.grantReadWriteData(grantee));
  }

  /** Consume: read the stream (e.g. to re-read a failed shard range), read and write the ledger. */
  grantConsume(grantee: iam.IGrantable): iam.Grant {
    return this.stream.grantRead(grantee).combine(this.ledger.grantReadWriteData(grantee));
  }
}

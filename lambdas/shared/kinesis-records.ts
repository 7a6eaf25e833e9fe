import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { KinesisStreamRecord } from 'aws-lambda';

/** A record read with GetRecords, in the shape Lambda hands a Kinesis consumer. */
export function toKinesisStreamRecord(
  record: KinesisRecord,
  shardId: string,
  streamArn: string,
  region: string,
  invokeIdentityArn = 'local',
): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber: record.SequenceNumber ?? '',
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${record.SequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn,
    awsRegion: region,
    eventSourceARN: streamArn,
  };
}

/** `arn:aws:kinesis:<region>:<account>:stream/<name>` -> name and region. */
export function parseStreamArn(arn: string): { streamName: string; region: string } {
  const [, , , region = '', , resource = ''] = arn.split(':');
  return { streamName: resource.replace(/^stream\//, ''), region };
}

/** A shard's sequence range, as the Kinesis mapping's on-failure record names a failed batch. */
export interface SequenceRange {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
}

/**
 * The one `wal replay` command that re-delivers what the stream still holds of a range (every namespace: a
 * batch mixes them), for a DLQ message's reason. A deployed stage's needs the stack outputs file too.
 */
export function replayRangeCommand(range: SequenceRange, stage: string | undefined): string {
  const where =
    stage === undefined || stage === 'local'
      ? ''
      : ` --stage ${stage} --outputs-file <the file "cdk deploy --outputs-file" wrote>`;
  return (
    `wal replay --all-namespaces --shard ${range.shardId} --from-sequence ${range.startSequenceNumber} ` +
    `--to-sequence ${range.endSequenceNumber}${where}`
  );
}

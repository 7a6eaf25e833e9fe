/**
 * The stack's outputs: the contract by which tools find the WAL's resources. The CLI, the chaos
 * checker and the tests read these (from `cdk deploy --outputs-file`, or from the local runtime, which
 * resolves them from the synthesized template), never logical ids or physical names.
 */
export const WAL_OUTPUTS = {
  apiUrl: 'ApiUrl',
  ledgerTableName: 'LedgerTableName',
  waitingRoomTableName: 'WaitingRoomTableName',
  streamName: 'StreamName',
  delayQueueUrl: 'DelayQueueUrl',
  retryQueueUrl: 'RetryQueueUrl',
  retryQueueArn: 'RetryQueueArn',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  streamFailureQueueUrl: 'StreamFailureQueueUrl',
  alarmTopicArn: 'AlarmTopicArn',
} as const;

export type WalOutputName = (typeof WAL_OUTPUTS)[keyof typeof WAL_OUTPUTS];

/** The values of a deployed or local stack's outputs, by output name. */
export type WalOutputs = Readonly<Record<WalOutputName, string>>;

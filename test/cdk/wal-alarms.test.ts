import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { WalStack } from '#lib/wal-stack';
import { type Json, logicalIdOf, ORDERS_NAMESPACE, synthesizeOnce } from './fixtures';

// GIVEN a stage with one namespace (synthesized once for the file).
let stack: WalStack;
let template: Template;

synthesizeOnce({ 'orders.json': ORDERS_NAMESPACE }, (synthesized) => {
  ({ stack, template } = synthesized);
});

const topicRef = () => ({ Ref: logicalIdOf(stack.alarms.topic) });
const ref = (construct: Parameters<typeof logicalIdOf>[0]) => ({ Ref: logicalIdOf(construct) });

/** The alarm's properties: it notifies the topic in ALARM and when back to OK. */
function alarmProperties(
  name: string,
  expected = { ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' },
): { [key: string]: Json } {
  const alarm = stack.alarms.alarms.get(name);
  if (!alarm) throw new Error(`No alarm ${name}`);
  const properties = template.toJSON().Resources[logicalIdOf(alarm)].Properties;
  expect(properties).toMatchObject({ AlarmActions: [topicRef()], OKActions: [topicRef()], ...expected });
  return properties;
}

describe('alarm topic', () => {
  test('is one SNS topic, TLS only, and the stack outputs its ARN', () => {
    // THEN one topic, its policy denies plain HTTP, and an output names it
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasOutput('AlarmTopicArn', { Value: topicRef() });
  });

  test('every alarm of the stack notifies it', () => {
    // WHEN the template's alarms are listed
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    // THEN there are 16 (the waiting room poller has the consumers' three, and one for not running), each with the
    // topic as its action
    expect(alarms).toHaveLength(stack.alarms.alarms.size);
    expect(alarms).toHaveLength(16);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([topicRef()]);
  });
});

describe('queue alarms', () => {
  test.each([
    // GIVEN each queue alarm with its queue, metric and threshold
    ['deadLetterDepth', 'deadLetterQueue', 'ApproximateNumberOfMessagesVisible', 1],
    ['deadLetterAge', 'deadLetterQueue', 'ApproximateAgeOfOldestMessage', 24 * 3600],
    ['streamFailureDepth', 'streamFailureQueue', 'ApproximateNumberOfMessagesVisible', 1],
    ['streamFailureAge', 'streamFailureQueue', 'ApproximateAgeOfOldestMessage', 15 * 60],
  ] as const)('%s: %s %s >= %i (maximum over 1 minute)', (name, queue, metric, threshold) => {
    // THEN the queue's alarm watches its metric's maximum each minute
    expect(alarmProperties(name)).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: metric,
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(stack.queues[queue]), 'QueueName'] } },
      ],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: threshold,
    });
  });
});

describe('stream alarm', () => {
  test('iteratorAge: GetRecords.IteratorAgeMilliseconds >= 15 minutes for 5 minutes', () => {
    // THEN the stream's alarm fires when records wait 15 minutes for 5 minutes
    expect(alarmProperties('iteratorAge')).toMatchObject({
      Namespace: 'AWS/Kinesis',
      MetricName: 'GetRecords.IteratorAgeMilliseconds',
      Dimensions: [{ Name: 'StreamName', Value: ref(stack.storage.stream) }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 5,
      Threshold: 15 * 60 * 1000,
    });
  });
});

describe('consumer alarms', () => {
  test.each([
    // GIVEN each consumer alarm with its metric
    ['streamConsumer', 'Errors', 'Errors'],
    ['streamConsumer', 'Throttles', 'Throttles'],
    ['streamConsumer', 'RecursionDropped', 'RecursiveInvocationsDropped'],
    ['queueConsumer', 'Errors', 'Errors'],
    ['queueConsumer', 'Throttles', 'Throttles'],
    ['queueConsumer', 'RecursionDropped', 'RecursiveInvocationsDropped'],
  ] as const)('%s%s: AWS/Lambda %s >= 1 in 5 minutes', (consumer, suffix, metric) => {
    // THEN each consumer's alarm fires on one occurrence in 5 minutes
    expect(alarmProperties(`${consumer}${suffix}`)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: metric,
      Dimensions: [{ Name: 'FunctionName', Value: ref(stack.consumers[consumer].handler) }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
    });
  });
});

describe('scheduled function alarm', () => {
  test('waitingRoomPollerNotRunning: AWS/Lambda Invocations < 1 in 10 minutes, no data breaching', () => {
    // THEN the poller (run every minute) alarms when it was not invoked for 10 minutes, or has no data at all
    expect(
      alarmProperties('waitingRoomPollerNotRunning', {
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
      }),
    ).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Invocations',
      Dimensions: [{ Name: 'FunctionName', Value: ref(stack.waitingRoom.poller.handler) }],
      Statistic: 'Sum',
      Period: 600,
      EvaluationPeriods: 1,
      Threshold: 1,
    });
  });
});

describe('API alarm', () => {
  test("api5xx: the HTTP API's 5xx >= 5 in 5 minutes", () => {
    // THEN the API's alarm fires on five 5xx in 5 minutes
    expect(alarmProperties('api5xx')).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: ref(stack.ingestApi.api) }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 5,
    });
  });
});

import { UnreachableTargetError } from '#lib/targets/index';
import { newTestStack, removeDir, TEST_ENV, writeConfigDir } from './fixtures';

/** Synthesizes stage `test` (region eu-west-1, account 111111111111) with one namespace of one target. */
function synthesizeWith(target: Record<string, unknown>): void {
  const configDir = writeConfigDir({
    test: { 'events.json': { name: 'events', targets: [{ name: 'out', ...target }] } },
  });
  try {
    newTestStack({ stage: 'test', configDir });
  } finally {
    removeDir(configDir);
  }
}

const ACCOUNT = TEST_ENV.account;

describe('targets the consumers can reach', () => {
  it.each([
    // GIVEN existing targets in another region than the stack's (eu-west-1)
    [
      'a Lambda function',
      { type: 'lambda', functionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:apply` },
    ],
    ['an SQS queue', { type: 'sqs', queueUrl: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/jobs` }],
    ['an SNS topic', { type: 'sns', topicArn: `arn:aws:sns:us-west-2:${ACCOUNT}:orders` }],
  ])('fails if %s is in another region', (_name, target) => {
    // WHEN the stage is synthesized THEN it fails naming the resource and both regions
    expect(() => synthesizeWith(target)).toThrow(UnreachableTargetError);
    expect(() => synthesizeWith(target)).toThrow(/is in us-(east-1|west-2), the stack in eu-west-1/);
  });

  it('fails if a Kinesis stream is in another account (records are put by stream name)', () => {
    // GIVEN a stream of account 222222222222 in the stack's region
    const target = { type: 'kinesis', streamArn: 'arn:aws:kinesis:eu-west-1:222222222222:stream/feed' };
    // WHEN/THEN the synth fails naming the account
    expect(() => synthesizeWith(target)).toThrow(/is in account 222222222222/);
  });

  it("accepts a function of another account in the stack's region", () => {
    // GIVEN a cross-account Lambda in eu-west-1 (its resource policy allows the consumers)
    const target = { type: 'lambda', functionArn: 'arn:aws:lambda:eu-west-1:222222222222:function:apply' };
    // WHEN/THEN the stage synthesizes
    expect(() => synthesizeWith(target)).not.toThrow();
  });
});

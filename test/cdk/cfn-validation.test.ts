import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { WalStack } from '#lib/wal-stack';
import { TEST_ENV } from './fixtures';

// The CDK's built-in CloudFormation validation only warns unless this flag is on; the other CDK tests skip it
// (appWithoutBundling) because it costs 5 to 15 s per file. Here it runs once per stage of config/, errors failing synth.
const VALIDATION_CONTEXT = {
  'aws:cdk:bundling-stacks': [],
  '@aws-cdk/core:validateAgainstDefaultRules': true,
};

describe('CloudFormation validation of the synthesized stages', () => {
  test.each(['dev', 'local', 'prod'])(
    'the %s stage of config/ synthesizes without validation errors',
    (stage) => {
      // GIVEN an app that validates its templates, errors failing the synth
      const app = new App({ context: VALIDATION_CONTEXT });
      new WalStack(app, `ServerlessWal-${stage}`, { stage, env: TEST_ENV });
      // WHEN it is synthesized / THEN the validation finds no error
      expect(() => app.synth()).not.toThrow();
    },
  );

  test('fails if a template has a validation error (the check is live)', () => {
    // GIVEN a stack with a queue whose visibility timeout is out of range
    const app = new App({ context: VALIDATION_CONTEXT });
    const stack = new Stack(app, 'Broken', { env: TEST_ENV });
    new CfnResource(stack, 'Queue', { type: 'AWS::SQS::Queue', properties: { VisibilityTimeout: 'never' } });
    // WHEN it is synthesized / THEN the validation fails it
    expect(() => app.synth()).toThrow(/CloudFormation Validate/);
  });
});

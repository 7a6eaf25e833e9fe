import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { grantPermissions } from '#lib/targets/index';

describe('grantPermissions', () => {
  it('merges permissions into one statement per set of actions, naming each resource once', () => {
    // GIVEN a role and permissions of three targets, two of them with the same actions
    const stack = new Stack(new App({ builtinCloudFormationValidation: false }), 'Grants');
    const role = new iam.Role(stack, 'Consumer', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    // WHEN they are granted
    grantPermissions(role, [
      { actions: ['sqs:SendMessage'], resourceArns: ['arn:aws:sqs:eu-west-1:123456789012:a'] },
      {
        actions: ['sqs:SendMessage'],
        resourceArns: ['arn:aws:sqs:eu-west-1:123456789012:b', 'arn:aws:sqs:eu-west-1:123456789012:a'],
      },
      { actions: ['sns:Publish'], resourceArns: ['arn:aws:sns:eu-west-1:123456789012:t'] },
      { actions: ['lambda:InvokeFunction'], resourceArns: [] },
    ]);
    // THEN the policy has exactly two statements, and the empty permission granted nothing
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'sqs:SendMessage',
            Effect: 'Allow',
            Resource: ['arn:aws:sqs:eu-west-1:123456789012:a', 'arn:aws:sqs:eu-west-1:123456789012:b'],
          },
          { Action: 'sns:Publish', Effect: 'Allow', Resource: 'arn:aws:sns:eu-west-1:123456789012:t' },
        ],
      },
    });
    Template.fromStack(stack).resourcePropertiesCountIs(
      'AWS::IAM::Policy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction' })]),
        },
      },
      0,
    );
  });
});

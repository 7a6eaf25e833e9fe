import type { CfnTemplate } from '#src/local/runtime/cfn-template';
import { flattenNestedStacks, NestedStackFlattenError } from '#src/local/runtime/nested-stacks';

// GIVEN a parent with a key, a nested stack that gets the key's ARN as a parameter and outputs its table's ARN,
// and a function that reads the output and waits for the nested stack
const PARENT: CfnTemplate = {
  Resources: {
    Key: { Type: 'AWS::KMS::Key' },
    Nested: {
      Type: 'AWS::CloudFormation::Stack',
      Properties: { Parameters: { KeyArnParam: { 'Fn::GetAtt': ['Key', 'Arn'] } } },
    },
    Fn: {
      Type: 'AWS::Lambda::Function',
      Properties: { Environment: { TABLE: { 'Fn::GetAtt': ['Nested', 'Outputs.TableArn'] } } },
      DependsOn: ['Nested', 'Key'],
    },
  },
  Outputs: { Table: { Value: { 'Fn::GetAtt': ['Nested', 'Outputs.TableArn'] } } },
};
const NESTED = {
  Parameters: { KeyArnParam: { Type: 'String' } },
  Resources: {
    Table: {
      Type: 'AWS::DynamoDB::Table',
      Properties: { SSESpecification: { KMSMasterKeyId: { Ref: 'KeyArnParam' } } },
    },
  },
  Outputs: { TableArn: { Value: { 'Fn::GetAtt': ['Table', 'Arn'] } } },
};

describe('flattenNestedStacks', () => {
  test("inlines the nested resources: parameters become the parent's values, outputs their values", () => {
    // WHEN
    const flat = flattenNestedStacks(PARENT, new Map([['Nested', NESTED]]));
    // THEN the nested stack resource is gone, its table is in, wired to the parent's key and read by the function
    expect(Object.keys(flat.Resources).sort()).toEqual(['Fn', 'Key', 'Table']);
    expect(flat.Resources.Table?.Properties).toEqual({
      SSESpecification: { KMSMasterKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] } },
    });
    expect(flat.Resources.Fn?.Properties).toEqual({
      Environment: { TABLE: { 'Fn::GetAtt': ['Table', 'Arn'] } },
    });
    expect(flat.Resources.Fn?.DependsOn).toEqual(['Key']);
    expect(flat.Outputs?.Table?.Value).toEqual({ 'Fn::GetAtt': ['Table', 'Arn'] });
  });

  test('fails if a nested stack has no template', () => {
    // WHEN/THEN the parent is flattened without the nested template
    expect(() => flattenNestedStacks(PARENT, new Map())).toThrow(NestedStackFlattenError);
  });

  test("fails if a nested resource's logical id is the parent's too", () => {
    // GIVEN a nested stack whose resource is called like the parent's key
    const clashing = { ...NESTED, Resources: { ...NESTED.Resources, Key: { Type: 'AWS::SQS::Queue' } } };
    // WHEN/THEN
    expect(() => flattenNestedStacks(PARENT, new Map([['Nested', clashing]]))).toThrow(
      /Key .* is used twice/,
    );
  });

  test('fails if the parent does not pass a parameter the nested stack uses', () => {
    // GIVEN a parent that passes no parameters
    const parent: CfnTemplate = {
      Resources: { ...PARENT.Resources, Nested: { Type: 'AWS::CloudFormation::Stack', Properties: {} } },
    };
    // WHEN/THEN
    expect(() => flattenNestedStacks(parent, new Map([['Nested', NESTED]]))).toThrow(
      /KeyArnParam is not passed/,
    );
  });

  test('fails if the parent reads an output the nested stack does not have', () => {
    // GIVEN a nested stack without outputs
    const { Outputs: _outputs, ...withoutOutputs } = NESTED;
    // WHEN/THEN
    expect(() => flattenNestedStacks(PARENT, new Map([['Nested', withoutOutputs]]))).toThrow(
      /no output TableArn/,
    );
  });
});

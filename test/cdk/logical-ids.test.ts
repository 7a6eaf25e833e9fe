import { Template } from 'aws-cdk-lib/assertions';
import { NAMESPACE_STACK_COUNT, namespaceStackIndex } from '#lib/namespace-parameters';
import { newTestStack } from './fixtures';

/**
 * The logical ids of the stateful resources, pinned. CloudFormation replaces a resource whose logical
 * id changes: a renamed construct id or a moved construct would delete the key, the stream, the ledger,
 * a queue (with its messages) or a target table (with its items) in a real account. These ids are
 * exact on purpose: if this test fails, do not update it, undo the rename (or keep the old id with
 * `overrideLogicalId`) unless the replacement is intended and planned.
 *
 * A namespace's parameter and tables live in a nested stack (`NamespacesNN`, by a hash of the namespace name):
 * their identity is `<nested stack logical id>/<logical id in it>`, and both parts are pinned. The move of the
 * namespaces into nested stacks (issue 9, before the first release) replaced the tables of dev/prod `orders`
 * (`NamespacesordersTargetorders4C9213DC` before): allowed once, before any real data.
 */
const STATEFUL_TYPES = [
  'AWS::KMS::Key',
  'AWS::Kinesis::Stream',
  'AWS::DynamoDB::Table',
  'AWS::SQS::Queue',
  'AWS::SSM::Parameter',
] as const;

/** Shared by every stage. */
const CORE_IDS = {
  'AWS::KMS::Key': ['StorageKeyBAA9457B'],
  'AWS::Kinesis::Stream': ['StorageStream1E4F10F3'],
  'AWS::DynamoDB::Table': ['StorageLedger5E7CB2E3', 'WaitingRoomTableFB84D37B'],
  'AWS::SQS::Queue': [
    'QueuesDeadLetterQueue82AA3FB7',
    'QueuesDelayQueue4DE401A6',
    'QueuesRetryQueue7832649F',
    'QueuesStreamFailureQueue5BF120BE',
  ],
} as const;

/** Per stage (config/<stage>/): the provisioned target tables and the namespace parameters, `<nested stack>/<id>`. */
const NAMESPACE_IDS: Record<string, { tables: string[]; parameters: string[] }> = {
  dev: {
    tables: ['Namespaces27/ordersTargetorders0EB57E8B'],
    parameters: ['Namespaces27/ordersParameter4BB0DCCB'],
  },
  local: {
    tables: ['Namespaces12/demoTargetmain30567950'],
    parameters: ['Namespaces12/demoParameter17AD055D'],
  },
  prod: {
    tables: ['Namespaces27/ordersTargetorders0EB57E8B'],
    parameters: ['Namespaces27/ordersParameter4BB0DCCB'],
  },
};

describe('the nested stack of a namespace', () => {
  it('fails if the bucket of a namespace name changes (a hash of the name, over a count fixed forever)', () => {
    // GIVEN names whose buckets are pinned
    const pinned = { orders: 27, demo: 12, a: 18, 'payments-eu': 11 };
    // WHEN their buckets are computed
    const buckets = Object.fromEntries(Object.keys(pinned).map((name) => [name, namespaceStackIndex(name)]));
    // THEN they are exactly the pinned ones, over 32 buckets
    expect(NAMESPACE_STACK_COUNT).toBe(32);
    expect(buckets).toEqual(pinned);
  });
});

describe.each(Object.keys(NAMESPACE_IDS))('logical ids of the stateful resources of stage %s', (stage) => {
  // GIVEN the stack of the stage, synthesized from the repository's config/
  const stack = newTestStack({ stage });
  const template = Template.fromStack(stack);
  const nested = [...stack.namespaces.stacks.values()].map((child) => ({
    id: stack.resolve(child.nestedStackResource?.logicalId) as string,
    template: Template.fromStack(child),
  }));
  const expected = NAMESPACE_IDS[stage] ?? { tables: [], parameters: [] };
  const idsOf = (type: string): string[] => Object.keys(template.findResources(type)).sort();
  const nestedIdsOf = (type: string): string[] =>
    nested
      .flatMap((child) => Object.keys(child.template.findResources(type)).map((id) => `${child.id}/${id}`))
      .sort();

  it('fails if the KMS key or the stream changes its logical id', () => {
    // THEN they keep their exact ids
    expect(idsOf('AWS::KMS::Key')).toEqual(CORE_IDS['AWS::KMS::Key']);
    expect(idsOf('AWS::Kinesis::Stream')).toEqual(CORE_IDS['AWS::Kinesis::Stream']);
  });

  it('fails if the ledger or a provisioned target table changes its logical id', () => {
    // THEN the ledger and each provisioned target table keep their exact ids
    expect(idsOf('AWS::DynamoDB::Table')).toEqual([...CORE_IDS['AWS::DynamoDB::Table']].sort());
    expect(nestedIdsOf('AWS::DynamoDB::Table')).toEqual([...expected.tables].sort());
  });

  it('fails if a queue (delay, retry, stream-failure, DLQ) changes its logical id', () => {
    // THEN every queue keeps its exact id
    expect(idsOf('AWS::SQS::Queue')).toEqual([...CORE_IDS['AWS::SQS::Queue']].sort());
  });

  it('fails if a namespace parameter changes its logical id', () => {
    // THEN each namespace's SSM parameter keeps its exact id
    expect(idsOf('AWS::SSM::Parameter')).toEqual([]);
    expect(nestedIdsOf('AWS::SSM::Parameter')).toEqual([...expected.parameters].sort());
  });

  it('fails if a stateful resource of a type not pinned here is added', () => {
    // WHEN the resource types of the template are listed
    const types = new Set(
      [template, ...nested.map((child) => child.template)].flatMap((each) =>
        Object.values(each.toJSON().Resources as Record<string, { Type: string }>).map((r) => r.Type),
      ),
    );
    // THEN every type that holds data is one of the pinned ones
    const dataTypes = [...types].filter((type) =>
      /^AWS::(KMS::Key|Kinesis::Stream|DynamoDB::|SQS::Queue$|SSM::Parameter|S3::Bucket|RDS::|EFS::)/.test(
        type,
      ),
    );
    expect(dataTypes.filter((type) => !(STATEFUL_TYPES as readonly string[]).includes(type))).toEqual([]);
  });
});

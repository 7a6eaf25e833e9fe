import { Template } from 'aws-cdk-lib/assertions';
import { WAL_OUTPUTS } from '#lib/wal-outputs';
import { newTestStack } from './fixtures';

// The outputs are the contract by which the CLI, the chaos checker and the tests find resources.
describe('stack outputs', () => {
  it('fails if the template does not emit exactly the outputs WAL_OUTPUTS names', () => {
    // GIVEN a stage's stack
    const stack = newTestStack({ stage: 'dev' });

    // WHEN it is synthesized
    const outputs = Template.fromStack(stack).toJSON().Outputs as Record<string, unknown>;

    // THEN its outputs are WAL_OUTPUTS' names, no more, no fewer
    expect(Object.keys(outputs).sort()).toEqual(Object.values(WAL_OUTPUTS).sort());
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, NestedStack, type Stack } from 'aws-cdk-lib';
import { WalStack, type WalStackProps } from '#lib/wal-stack';
import { walStackName } from '#src/outputs/outputs-file';
import type { CfnTemplate } from './cfn-template';
import { flattenNestedStacks } from './nested-stacks';

export interface SynthesizedStack {
  readonly stackName: string;
  readonly template: CfnTemplate;
}

/**
 * Synthesizes the CDK app's stack for a stage in this process, without bundling (the local runtime
 * runs the TypeScript sources): the template is the wiring, exactly as it deploys. Nested stacks (the
 * namespaces) are flattened into it from the cloud assembly.
 */
export function synthesizeStack(stage: string, props: Partial<WalStackProps> = {}): SynthesizedStack {
  const outdir = mkdtempSync(join(tmpdir(), 'wal-synth-'));
  try {
    // The CDK's built-in template validation (a WebAssembly engine, 3 to 30 s per synth) is left to `cdk synth`
    // and the CDK tests: the local runtime needs the wiring only.
    const app = new App({
      outdir,
      context: { 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stackName = walStackName(stage);
    const stack = new WalStack(app, stackName, { stage, ...props });
    const assembly = app.synth();
    const template = assembly.getStackByName(stackName).template as CfnTemplate;
    return { stackName, template: flattenNestedStacks(template, nestedTemplates(stack, assembly.directory)) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The template of each nested stack of `stack`, by the logical id of its `AWS::CloudFormation::Stack`. */
function nestedTemplates(stack: Stack, directory: string): Map<string, CfnTemplate> {
  return new Map(
    stack.node
      .findAll()
      .filter((construct): construct is NestedStack => NestedStack.isNestedStack(construct))
      .map((nested) => [
        stack.resolve(nested.nestedStackResource?.logicalId) as string,
        JSON.parse(readFileSync(join(directory, nested.templateFile), 'utf8')) as CfnTemplate,
      ]),
  );
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { WalStack, type WalStackProps } from '#lib/wal-stack';
import { walStackName } from '#src/outputs/outputs-file';
import type { CfnTemplate } from './cfn-template';

export interface SynthesizedStack {
  readonly stackName: string;
  readonly template: CfnTemplate;
}

/**
 * Synthesizes the CDK app's stack for a stage in this process, without bundling (the local runtime
 * runs the TypeScript sources): the template is the wiring, exactly as it deploys.
 */
export function synthesizeStack(stage: string, props: Partial<WalStackProps> = {}): SynthesizedStack {
  const outdir = mkdtempSync(join(tmpdir(), 'wal-synth-'));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stackName = walStackName(stage);
    new WalStack(app, stackName, { stage, ...props });
    const template = app.synth().getStackByName(stackName).template as CfnTemplate;
    return { stackName, template };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

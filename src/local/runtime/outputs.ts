import { WAL_OUTPUTS, type WalOutputName, type WalOutputs } from '#lib/wal-outputs';
import { type CfnTemplate, type ResolveContext, resolveString } from './cfn-template';

export class MissingOutputError extends Error {
  constructor(readonly outputName: string) {
    super(
      `The template has no output ${outputName}: lib/wal-outputs.ts names the outputs tools rely on, and ` +
        'lib/wal-stack.ts must declare each of them.',
    );
    this.name = 'MissingOutputError';
  }
}

/**
 * The stack's outputs (lib/wal-outputs.ts) resolved against the local resources. ApiUrl is the local
 * API's: the template builds it from the API id and the AWS domain, which name nothing locally.
 */
export function resolveOutputs(template: CfnTemplate, context: ResolveContext, apiUrl: string): WalOutputs {
  const outputs = {} as Record<WalOutputName, string>;
  for (const name of Object.values(WAL_OUTPUTS)) {
    const output = template.Outputs?.[name];
    if (!output) throw new MissingOutputError(name);
    outputs[name] =
      name === WAL_OUTPUTS.apiUrl ? `${apiUrl}/` : resolveString(output.Value, context, `Outputs.${name}`);
  }
  return outputs;
}

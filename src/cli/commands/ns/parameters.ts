import { join, resolve } from 'node:path';
import {
  GetParameterCommand,
  GetParametersByPathCommand,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { namespaceParameterName, namespaceParameterPrefix } from '#lambdas/shared/namespace-config';
import { DEFAULT_DATA_DIR } from '#src/cli/commands/local';
import { UsageError } from '#src/cli/usage-error';
import { DEFAULT_LOCAL_REGION } from '#src/local/constants';
import { LOCAL_OUTPUTS, OUTPUTS_FILE_NAME, readStackOutputs, walStackName } from '#src/outputs/outputs-file';
import type { NamespaceParameter } from './change';
import { NamespaceNotFoundError, SsmCallError } from './errors';

/** The stage the local runtime serves unless `wal local --stage` says otherwise. */
const LOCAL_STAGE = 'local';

/** Where the namespace parameters are: flags of `wal ns list|get|set|enable|disable`. */
export interface NsConnectionOptions {
  /** @default 'local' */
  readonly stage?: string;
  /** The local WAL's data dir, whose outputs.json names its SSM endpoint. @default `<repo>/.wal-data` */
  readonly dataDir?: string;
  readonly outputsFile?: string;
  /** An explicit (local) SSM endpoint. */
  readonly ssmEndpoint?: string;
}

/**
 * The parameters of a local WAL (its SSM endpoint from --ssm-endpoint or its outputs file) or, for `--stage S`
 * other than `local` with no local flag, of the deployed stage (default AWS credentials and region).
 */
export function connectNamespaceParameters(options: NsConnectionOptions): NamespaceParameterStore {
  const stage = options.stage ?? LOCAL_STAGE;
  if (options.outputsFile !== undefined && options.dataDir !== undefined) {
    throw new UsageError('--outputs-file and --data-dir both name the outputs file: pass one.');
  }
  const local =
    options.ssmEndpoint !== undefined ||
    options.outputsFile !== undefined ||
    options.dataDir !== undefined ||
    stage === LOCAL_STAGE;
  if (!local) return new NamespaceParameterStore(new SSMClient({}), stage, 'aws');
  const endpoint = options.ssmEndpoint ?? localSsmEndpoint(options, stage);
  try {
    new URL(endpoint);
  } catch {
    throw new UsageError(
      `"${endpoint}" is not a valid SSM endpoint URL; expected e.g. http://127.0.0.1:4583.`,
    );
  }
  const ssm = new SSMClient({
    region: DEFAULT_LOCAL_REGION,
    endpoint,
    // The local endpoint checks no signature; dummy keys keep real ones out of a local call.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return new NamespaceParameterStore(ssm, stage, endpoint);
}

function localSsmEndpoint(options: NsConnectionOptions, stage: string): string {
  const file = resolve(options.outputsFile ?? join(options.dataDir ?? DEFAULT_DATA_DIR, OUTPUTS_FILE_NAME));
  return readStackOutputs(file, walStackName(stage)).get(LOCAL_OUTPUTS.ssmEndpoint);
}

/** The namespace parameters of one stage: `/wal/<stage>/namespaces/<namespace>`. */
export class NamespaceParameterStore {
  constructor(
    private readonly ssm: SSMClient,
    readonly stage: string,
    /** `aws` for a deployed stage, else the local SSM endpoint. */
    readonly where: string,
  ) {}

  get deployed(): boolean {
    return this.where === 'aws';
  }

  /** Every namespace of the stage, by name. */
  async list(): Promise<NamespaceParameter[]> {
    const path = namespaceParameterPrefix(this.stage);
    const found: NamespaceParameter[] = [];
    let nextToken: string | undefined;
    do {
      const answer = await this.call('GetParametersByPath', path, () =>
        this.ssm.send(new GetParametersByPathCommand({ Path: path, MaxResults: 10, NextToken: nextToken })),
      );
      for (const parameter of answer.Parameters ?? []) {
        const name = parameter.Name ?? '';
        found.push({ namespace: name.slice(path.length), parameterName: name, value: parameter.Value ?? '' });
      }
      nextToken = answer.NextToken;
    } while (nextToken);
    return found.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
  }

  async get(namespace: string): Promise<NamespaceParameter> {
    const parameterName = namespaceParameterName(this.stage, namespace);
    try {
      const answer = await this.ssm.send(new GetParameterCommand({ Name: parameterName }));
      return { namespace, parameterName, value: answer.Parameter?.Value ?? '' };
    } catch (error) {
      if (error instanceof ParameterNotFound) throw new NamespaceNotFoundError(namespace, parameterName);
      throw new SsmCallError('GetParameter', parameterName, { cause: error });
    }
  }

  /** Overwrites the parameter; returns Parameter Store's version of it. */
  async put(parameter: NamespaceParameter): Promise<number | undefined> {
    const answer = await this.call('PutParameter', parameter.parameterName, () =>
      this.ssm.send(
        new PutParameterCommand({
          Name: parameter.parameterName,
          Value: parameter.value,
          Type: 'String',
          Overwrite: true,
        }),
      ),
    );
    return answer.Version;
  }

  destroy(): void {
    this.ssm.destroy();
  }

  private async call<T>(action: string, target: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw new SsmCallError(action, target, { cause: error });
    }
  }
}

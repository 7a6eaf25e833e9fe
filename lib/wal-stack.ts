import { CfnOutput, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { NamespaceParameters } from './namespace-parameters';
import { ALLOW_REPLACE_CONTEXT, checkProvisionedLock, UPDATE_LOCK_CONTEXT } from './provisioned-lock';
import { DEFAULT_CONFIG_DIR, loadStageConfig, type StageConfig, type StageSettings } from './stage-config';
import { WalAlarms } from './wal-alarms';
import { WalConsumers } from './wal-consumers';
import { INGEST_TIMEOUT } from './wal-defaults';
import { WalIngestApi } from './wal-ingest-api';
import { WAL_OUTPUTS, type WalOutputName } from './wal-outputs';
import { WalQueues } from './wal-queues';
import { WalStorage } from './wal-storage';
import { WalWaitingRoom } from './wal-waiting-room';

export interface WalStackProps extends StackProps {
  /** The stage; its namespaces are read from `<configDir>/<stage>/*.json`. */
  readonly stage: string;
  /**
   * Where the per-stage namespace folders are.
   * @default - the repository's `config/` folder
   */
  readonly configDir?: string;
  /**
   * Overrides of the stage's settings (e.g. `{ queueMaxReceiveCount: 2, streamBatchSize: 7 }`).
   * Invalid values fail the synth with an error that names the setting and the value.
   * @default - the stage's settings from `stageSettings(stage)`
   */
  readonly settings?: Partial<StageSettings>;
}

/** One stage of the WAL in one account and region. */
export class WalStack extends Stack {
  readonly config: StageConfig;
  readonly storage: WalStorage;
  readonly queues: WalQueues;
  readonly waitingRoom: WalWaitingRoom;
  readonly namespaces: NamespaceParameters;
  readonly ingestApi: WalIngestApi;
  readonly consumers: WalConsumers;
  readonly alarms: WalAlarms;

  constructor(scope: Construct, id: string, props: WalStackProps) {
    const { stage, configDir, settings: overrides, ...stackProps } = props;
    super(scope, id, { description: `serverless-wal (${stage}): durable write-ahead log`, ...stackProps });
    // Validate the namespace configs before creating anything.
    this.config = loadStageConfig(stage, configDir ?? DEFAULT_CONFIG_DIR, overrides);
    const { settings } = this.config;
    if (settings.provisionedLock) this.checkProvisionedLock();
    Tags.of(this).add('wal:stage', stage);

    this.storage = new WalStorage(this, 'Storage', {
      removalPolicy: settings.removalPolicy,
      streamRetention: settings.streamRetention,
    });
    this.queues = new WalQueues(this, 'Queues', {
      encryptionKey: this.storage.key,
      consumerTimeout: settings.consumerTimeout,
      maxReceiveCount: settings.queueMaxReceiveCount,
      removalPolicy: settings.removalPolicy,
      isolatedNamespaces: this.config.namespaces
        .map(({ config }) => config)
        .filter((config) => config.delivery.isolated)
        .map((config) => ({ name: config.name, maxConcurrency: config.delivery.maxConcurrency })),
    });
    this.waitingRoom = new WalWaitingRoom(this, 'WaitingRoom', {
      encryptionKey: this.storage.key,
      queues: this.queues,
      removalPolicy: settings.removalPolicy,
      logLevel: settings.logLevel,
      logRetention: settings.logRetention,
    });
    this.namespaces = new NamespaceParameters(this, 'Namespaces', {
      stage,
      namespaces: this.config.namespaces.map((namespace) => namespace.config),
      encryptionKey: this.storage.key,
      removalPolicy: settings.removalPolicy,
      namespaceQueues: this.queues.namespaceQueues,
    });
    this.ingestApi = this.createIngestApi(settings);
    this.consumers = this.createConsumers(settings);
    this.alarms = new WalAlarms(this, 'Alarms', {
      deadLetterQueue: this.queues.deadLetterQueue,
      streamFailureQueue: this.queues.streamFailureQueue,
      stream: this.storage.stream,
      consumers: {
        streamConsumer: this.consumers.streamConsumer.handler,
        queueConsumer: this.consumers.queueConsumer.handler,
        waitingRoomPoller: this.waitingRoom.poller.handler,
      },
      scheduled: { waitingRoomPoller: this.waitingRoom.poller.handler },
      api: this.ingestApi.api,
    });
    this.addOutputs();
  }

  /** Refuses a config change that would replace a provisioned target, unless `-c wal:allowReplace` names it. */
  private checkProvisionedLock(): void {
    const allowReplace: unknown = this.node.tryGetContext(ALLOW_REPLACE_CONTEXT);
    const updateLock: unknown = this.node.tryGetContext(UPDATE_LOCK_CONTEXT);
    checkProvisionedLock({
      stage: this.config.stage,
      directory: this.config.directory,
      namespaces: this.config.namespaces.map((namespace) => namespace.config),
      allowReplace: typeof allowReplace === 'string' ? allowReplace.split(',').map((id) => id.trim()) : [],
      updateLock: updateLock === true || updateLock === 'true',
    });
  }

  private createIngestApi(settings: StageSettings): WalIngestApi {
    return new WalIngestApi(this, 'IngestApi', {
      ...functionSettings(settings),
      storage: this.storage,
      namespaces: this.namespaces,
      timeout: INGEST_TIMEOUT,
      throttle: { rateLimit: settings.apiRateLimit, burstLimit: settings.apiBurstLimit },
    });
  }

  private createConsumers(settings: StageSettings): WalConsumers {
    return new WalConsumers(this, 'Consumers', {
      ...functionSettings(settings),
      storage: this.storage,
      queues: this.queues,
      namespaces: this.namespaces,
      waitingRoom: this.waitingRoom,
      ingestTimeout: this.ingestApi.ingest.timeout,
      timeout: settings.consumerTimeout,
      streamBatchSize: settings.streamBatchSize,
      streamRetryAttempts: settings.streamRetryAttempts,
      streamMaxRecordAge: settings.streamMaxRecordAge,
      allowHttpTargets: settings.allowHttpTargets,
    });
  }

  /** One output per name in WAL_OUTPUTS: the contract by which tools find the resources. */
  private addOutputs(): void {
    const outputs: Record<WalOutputName, { value: string; description?: string }> = {
      [WAL_OUTPUTS.apiUrl]: { value: this.ingestApi.url, description: 'Base URL of the WAL API' },
      [WAL_OUTPUTS.ledgerTableName]: { value: this.storage.ledger.tableName },
      [WAL_OUTPUTS.waitingRoomTableName]: {
        value: this.waitingRoom.table.tableName,
        description: 'Delayed mutations due in more than 900 s wait here (runbook: waiting room)',
      },
      [WAL_OUTPUTS.streamName]: { value: this.storage.stream.streamName },
      [WAL_OUTPUTS.delayQueueUrl]: { value: this.queues.delayQueue.queueUrl },
      [WAL_OUTPUTS.retryQueueUrl]: { value: this.queues.retryQueue.queueUrl },
      [WAL_OUTPUTS.retryQueueArn]: {
        value: this.queues.retryQueue.queueArn,
        description: 'The destination of a DLQ redrive ("Redrive to custom destination")',
      },
      [WAL_OUTPUTS.deadLetterQueueUrl]: {
        value: this.queues.deadLetterQueue.queueUrl,
        description: 'Redrive from here (console "Start DLQ redrive" or StartMessageMoveTask)',
      },
      [WAL_OUTPUTS.streamFailureQueueUrl]: { value: this.queues.streamFailureQueue.queueUrl },
      [WAL_OUTPUTS.alarmTopicArn]: {
        value: this.alarms.topic.topicArn,
        description: 'Every WAL alarm notifies this SNS topic: subscribe to it (docs/runbook.md, Alarms)',
      },
    };
    for (const [name, output] of Object.entries(outputs)) new CfnOutput(this, name, output);
  }
}

/** What the stage sets for every Lambda of the stack. */
function functionSettings(
  settings: StageSettings,
): Pick<StageSettings, 'configMaxAge' | 'logLevel' | 'logRetention' | 'removalPolicy'> {
  return {
    configMaxAge: settings.configMaxAge,
    logLevel: settings.logLevel,
    logRetention: settings.logRetention,
    removalPolicy: settings.removalPolicy,
  };
}

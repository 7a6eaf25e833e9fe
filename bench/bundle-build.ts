import * as fs from 'node:fs';
import { buildSync } from 'esbuild';
import { WAL_BUNDLING } from '#lib/wal-function';
import type { FunctionName } from './cold-start';

/**
 * What the bundle and memory sections build: each function's bundle with the stack's options (WAL_BUNDLING,
 * mainFields included), and the SDK clients each function really uses, for their baselines.
 */

/** The SDK clients each function really uses (its baseline), as `package#Client`. */
export const CLIENTS_USED: Record<FunctionName, readonly string[]> = {
  ingest: [
    '@aws-sdk/client-dynamodb#DynamoDBClient',
    '@aws-sdk/client-kinesis#KinesisClient',
    '@aws-sdk/client-ssm#SSMClient',
  ],
  streamConsumer: consumerClients(),
  queueConsumer: consumerClients(),
  waitingRoomPoller: ['@aws-sdk/client-dynamodb#DynamoDBClient', '@aws-sdk/client-sqs#SQSClient'],
};

/** The consumers write every target type: all the clients. */
function consumerClients(): string[] {
  return [
    '@aws-sdk/client-dynamodb#DynamoDBClient',
    '@aws-sdk/client-kinesis#KinesisClient',
    '@aws-sdk/client-sqs#SQSClient',
    '@aws-sdk/client-ssm#SSMClient',
    '@aws-sdk/client-sns#SNSClient',
    '@aws-sdk/client-eventbridge#EventBridgeClient',
    '@aws-sdk/client-lambda#LambdaClient',
    '@aws-sdk/client-secrets-manager#SecretsManagerClient',
  ];
}

/** Bundles `entry` as the stack does (WAL_BUNDLING) into `outfile`; returns its size in bytes. */
export function bundleAsDeployed(
  entry: string,
  outfile: string,
  options: { sourceMap: boolean; nodePaths?: string[] },
): number {
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    logLevel: 'silent',
    minify: WAL_BUNDLING.minify,
    target: WAL_BUNDLING.target,
    mainFields: [...WAL_BUNDLING.mainFields],
    external: [...WAL_BUNDLING.externalModules],
    define: WAL_BUNDLING.define,
    sourcemap: options.sourceMap && WAL_BUNDLING.sourceMap,
    sourcesContent: WAL_BUNDLING.sourcesContent,
    nodePaths: options.nodePaths ?? [],
  });
  return fs.statSync(outfile).size;
}

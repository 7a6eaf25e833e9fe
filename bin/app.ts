#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { InvalidNamespaceConfigError } from '#lambdas/shared/namespace-config';
import { NamespaceParameterTooLargeError } from '#lib/namespace-parameters';
import { ProvisionedLockOutdatedError, ProvisionedTargetReplacementError } from '#lib/provisioned-lock';
import {
  EmptyStageError,
  InvalidStageNameError,
  MissingStageError,
  NamespaceConfigSyntaxError,
  NamespaceFileNameMismatchError,
  PlainHttpTargetError,
  resolveStage,
  UnknownStageError,
} from '#lib/stage-config';
import { TimeoutsDoNotNestError } from '#lib/timeout-budget';
import { WalStack } from '#lib/wal-stack';

/** Configuration mistakes: reported as one readable line, not a stack trace. */
const CONFIG_ERRORS = [
  MissingStageError,
  UnknownStageError,
  InvalidStageNameError,
  EmptyStageError,
  NamespaceConfigSyntaxError,
  NamespaceFileNameMismatchError,
  InvalidNamespaceConfigError,
  TimeoutsDoNotNestError,
  NamespaceParameterTooLargeError,
  PlainHttpTargetError,
  ProvisionedTargetReplacementError,
  ProvisionedLockOutdatedError,
];

const app = new App();
try {
  // `cdk synth -c stage=dev`: one stack per stage (and per region, when deployed to several).
  const stage = resolveStage(app.node.tryGetContext('stage'));
  const region: unknown = app.node.tryGetContext('region') ?? process.env.CDK_DEFAULT_REGION;
  new WalStack(app, `ServerlessWal-${stage}`, {
    stage,
    env: {
      account: process.env.CDK_DEFAULT_ACCOUNT,
      region: typeof region === 'string' && region !== '' ? region : undefined,
    },
  });
  app.synth();
} catch (error) {
  if (!CONFIG_ERRORS.some((errorClass) => error instanceof errorClass)) throw error;
  console.error(`${(error as Error).name}: ${(error as Error).message}`);
  process.exitCode = 1;
}

// Runs one Lambda function's handler in a worker thread with the function's own environment,
// loading the TypeScript source through tsx: the same code that CDK bundles for AWS.
const { workerData, parentPort } = require('node:worker_threads');
const { randomUUID } = require('node:crypto');
require('tsx/cjs/api').register();

const { entry, handlerExport, functionName, functionArn } = workerData;

function context(deadline) {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function serializeError(error) {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

let handler;
try {
  handler = require(entry)[handlerExport];
  if (typeof handler !== 'function')
    throw new Error(`${entry} does not export a function "${handlerExport}"`);
  parentPort.postMessage({ type: 'ready' });
} catch (error) {
  parentPort.postMessage({ type: 'init-error', error: serializeError(error) });
}

// The host sends one invocation at a time and stops this thread at the deadline (the timeout).
parentPort.on('message', async (message) => {
  try {
    const result = await handler(message.event, context(message.deadline));
    parentPort.postMessage({ type: 'result', id: message.id, result });
  } catch (error) {
    parentPort.postMessage({ type: 'error', id: message.id, error: serializeError(error) });
  }
});

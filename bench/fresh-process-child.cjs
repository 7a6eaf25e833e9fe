// A fresh Node process, as a Lambda execution environment starts one: loads a bundle, invokes its `handler`
// with each event in turn (one at a time, as one environment does), and writes what it measured as JSON.
// Usage: node fresh-process-child.cjs <bundle> <events.json> <result.json> <memoryLimitInMB>
const fs = require('node:fs');
const v8 = require('node:v8');
const { randomUUID } = require('node:crypto');

const [bundle, eventsFile, resultFile, memoryLimitInMB] = process.argv.slice(2);
const MB = 1024 * 1024;

// Heap and RSS are sampled between and during invocations. Not the kernel's maxrss: Linux carries it over from
// the parent through fork and exec, so every child of a big bench process reported the parent's peak.
let peakHeapUsed = 0;
let peakRss = 0;
const sampleHeap = () => {
  peakHeapUsed = Math.max(peakHeapUsed, v8.getHeapStatistics().used_heap_size);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
};
setInterval(sampleHeap, 5).unref();

function context() {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
    memoryLimitInMB,
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/bench',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function main() {
  const started = performance.now();
  const loaded = require(bundle);
  const loadMs = performance.now() - started;
  sampleHeap();
  const rssAfterLoadMb = process.memoryUsage().rss / MB;
  const events = JSON.parse(fs.readFileSync(eventsFile, 'utf8'));
  const results = [];
  let firstEventMs;
  for (const event of events) {
    const invoked = performance.now();
    results.push(await loaded.handler(event, context()));
    firstEventMs ??= performance.now() - invoked;
    sampleHeap();
  }
  return {
    loadMs,
    firstEventMs: firstEventMs ?? null,
    totalMs: performance.now() - started,
    rssAfterLoadMb,
    peakRssMb: peakRss / MB,
    peakHeapUsedMb: peakHeapUsed / MB,
    results,
  };
}

main().then(
  (figures) => {
    fs.writeFileSync(resultFile, JSON.stringify(figures));
    // Open keep-alive sockets would hold the process: it is done.
    process.exit(0);
  },
  (error) => {
    fs.writeFileSync(
      resultFile,
      JSON.stringify({ error: error instanceof Error ? error.stack : String(error) }),
    );
    process.exit(1);
  },
);

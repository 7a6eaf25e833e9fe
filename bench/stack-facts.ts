import type { CfnTemplate } from '#src/local/runtime/cfn-template';
import { synthesizeStack } from '#src/local/runtime/synthesize';

/**
 * What the cost model reads from the synthesized template of a stage (the same in-process synth the local
 * runtime uses): each function's memory and architecture, the stream's capacity mode, and the resources that
 * cost money while idle.
 */
export interface StackFacts {
  readonly stage: string;
  /** Memory (MB) and architecture by POWERTOOLS_SERVICE_NAME (`wal-ingest`, ...). */
  readonly functions: Readonly<Record<string, { memoryMb: number; architecture: string }>>;
  readonly stream: { mode: 'ON_DEMAND' | 'PROVISIONED'; shards: number; retentionHours: number };
  readonly kmsKeys: number;
  readonly alarms: number;
  readonly dashboards: number;
  /** Queues a Lambda poller long-polls all the time (SQS event source mappings). */
  readonly sqsMappings: number;
  /** Scheduled invocations per month (EventBridge rules and Scheduler schedules with a rate). */
  readonly scheduledInvocationsPerMonth: number;
  /** The API's access log line with sample values: one per request. */
  readonly accessLogLineBytes: number;
}

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

const MINUTES_PER_MONTH = 730 * 60;
const RATE_MINUTES: Record<string, number> = {
  minute: 1,
  minutes: 1,
  hour: 60,
  hours: 60,
  day: 1440,
  days: 1440,
};

/** Sample values of the access log's `$context` variables, as a deployed API fills them. */
const ACCESS_LOG_SAMPLES: Record<string, string> = {
  '$context.requestId': 'Xk3bHgYzoAMEbZw=',
  '$context.requestTime': '26/Nov/2026:23:09:01 +0000',
  '$context.routeKey': 'POST /v1/namespaces/{namespace}/mutations',
  '$context.status': '200',
  '$context.identity.caller': 'AROA3XFRBF23EXAMPLE:orders-service',
  '$context.identity.userArn': 'arn:aws:sts::123456789012:assumed-role/orders-service-role/orders-service',
  '$context.identity.sourceIp': '10.12.34.56',
  '$context.responseLength': '171',
  '$context.integrationStatus': '200',
  '$context.integrationLatency': '38',
  '$context.error.message': '-',
};

export function stackFacts(stage: string): StackFacts {
  return factsOf(stage, synthesizeStack(stage).template);
}

function factsOf(stage: string, template: CfnTemplate): StackFacts {
  const resources = Object.values(template.Resources ?? {}) as Resource[];
  const ofType = (type: string) => resources.filter((resource) => resource.Type === type);
  const stream = ofType('AWS::Kinesis::Stream')[0]?.Properties ?? {};
  const mode = (stream.StreamModeDetails as { StreamMode?: string } | undefined)?.StreamMode;
  const stage_ = ofType('AWS::ApiGatewayV2::Stage')[0]?.Properties ?? {};
  const format = (stage_.AccessLogSettings as { Format?: string } | undefined)?.Format;
  return {
    stage,
    functions: functionsOf(ofType('AWS::Lambda::Function')),
    stream: {
      mode: mode === 'PROVISIONED' || stream.ShardCount !== undefined ? 'PROVISIONED' : 'ON_DEMAND',
      shards: Number(stream.ShardCount ?? 0),
      retentionHours: Number(stream.RetentionPeriodHours ?? 24),
    },
    kmsKeys: ofType('AWS::KMS::Key').length,
    alarms: ofType('AWS::CloudWatch::Alarm').length,
    dashboards: ofType('AWS::CloudWatch::Dashboard').length,
    sqsMappings: ofType('AWS::Lambda::EventSourceMapping').filter((mapping) =>
      JSON.stringify(mapping.Properties?.EventSourceArn ?? '').includes('Queue'),
    ).length,
    scheduledInvocationsPerMonth: [
      ...ofType('AWS::Events::Rule'),
      ...ofType('AWS::Scheduler::Schedule'),
    ].reduce((sum, rule) => sum + invocationsPerMonth(rule.Properties?.ScheduleExpression), 0),
    accessLogLineBytes: format ? accessLogBytes(format) : 0,
  };
}

function functionsOf(functions: Resource[]): StackFacts['functions'] {
  const facts: Record<string, { memoryMb: number; architecture: string }> = {};
  for (const fn of functions) {
    const variables = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables;
    const service = String(variables?.POWERTOOLS_SERVICE_NAME ?? 'unknown');
    facts[service] = {
      memoryMb: Number(fn.Properties?.MemorySize ?? 128),
      architecture: String((fn.Properties?.Architectures as string[] | undefined)?.[0] ?? 'x86_64'),
    };
  }
  return facts;
}

/** `rate(1 minute)` -> 43,800 a month; a cron or one-time schedule counts 0 (none in the stack today). */
export function invocationsPerMonth(expression: unknown): number {
  const match = /^rate\((\d+) (\w+)\)$/.exec(String(expression ?? ''));
  if (!match) return 0;
  const minutes = Number(match[1]) * (RATE_MINUTES[match[2] ?? ''] ?? Number.POSITIVE_INFINITY);
  return MINUTES_PER_MONTH / minutes;
}

function accessLogBytes(format: string): number {
  const line = format.replace(/\$context\.[\w.]+/g, (variable) => ACCESS_LOG_SAMPLES[variable] ?? 'sample');
  return Buffer.byteLength(`${line}\n`);
}

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { FuzzCase } from './arbitraries';
import { canonicalJson, withoutWalAttributes } from './canonical-json';
import { type JsonTree, jsonText, object, scalar } from './json-text';

/**
 * The fuzz property of the ingest API: every answer is 2xx or a 4xx problem+json (never a 5xx, never a
 * crash), and every 2xx is applied to the DynamoDB target exactly as sent. The oracle reads the
 * request as the server would (JSON.parse of the body sent) and the target through the SDK's own
 * document client, not the WAL's marshalling.
 */

export type Verdict = '2xx' | '4xx' | '5xx' | 'crash';

/** The local WAL as the fuzzer drives it. */
export interface FuzzWal {
  readonly apiUrl: string;
  readonly dynamodb: DynamoDBClient;
  /** The fuzz namespace's target table (key attribute `id`). */
  readonly tableName: string;
  /** Hands over what the event sources have; resolves with how much. */
  pollOnce(): Promise<number>;
}

/** What a 2xx promises about the target item with key `key`. */
export interface Expectation {
  readonly key: string;
  readonly mutationId: string;
  /** The idempotency key the WAL took (body, else header): GET finds a keyed mutation by it. */
  readonly idempotencyKey: string | undefined;
  /** Canonical JSON of the item without `_wal*` attributes, or undefined when it must not exist. */
  readonly item: string | undefined;
  /** Canonical JSON of the payload, as GET /mutations/{id} must answer it. */
  readonly payload: string;
  readonly request: string;
}

export interface CaseResult {
  readonly verdict: Verdict;
  readonly status: number;
  /** Why a 5xx or crash happened, with the request. */
  readonly problem?: string;
  /** The problem type of a 4xx (its last path segment), and its detail. */
  readonly rejection?: string;
  readonly detail?: string;
  readonly expectation?: Expectation;
  /** A 2xx whose effect the oracle cannot predict (it should not happen). */
  readonly unchecked?: boolean;
}

export const FUZZ_NAMESPACE = 'fuzz';

/** The request a case stands for, given the unique item key the runner chose. */
function buildRequest(fuzzCase: FuzzCase, key: string): { body: string; headers: Record<string, string> } {
  const idempotencyKey = `${key}-k`;
  const headers = requestHeaders(fuzzCase, key, idempotencyKey);
  if (fuzzCase.rawBody !== undefined) return { body: fuzzCase.rawBody, headers };

  const fields: (readonly [string, JsonTree])[] = [['payload', payloadOf(fuzzCase, key)]];
  if (fuzzCase.op !== 'absent') fields.push(['op', scalar(fuzzCase.op === 'bogus' ? 'merge' : fuzzCase.op)]);
  const { set, add } = setAndAdd(fuzzCase);
  if (set) fields.push(['set', object(set)]);
  if (add) fields.push(['add', object(add)]);
  if (['body', 'both-same', 'both-different'].includes(fuzzCase.idempotency)) {
    fields.push(['idempotencyKey', scalar(idempotencyKey)]);
  }
  // Extra fields may repeat a known one (the last wins, as in JSON.parse) but never the payload.
  fields.push(...fuzzCase.extra.filter(([name]) => name !== 'payload'));
  return { body: jsonText(object(fields)), headers };
}

function requestHeaders(fuzzCase: FuzzCase, key: string, idempotencyKey: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (['header', 'both-same'].includes(fuzzCase.idempotency)) headers['idempotency-key'] = idempotencyKey;
  if (fuzzCase.idempotency === 'both-different') headers['idempotency-key'] = `${key}-other`;
  if (fuzzCase.idempotency === 'header-invalid') headers['idempotency-key'] = 'has space';
  return headers;
}

function payloadOf(fuzzCase: FuzzCase, key: string): JsonTree {
  const idValue: Record<FuzzCase['keyShape'], JsonTree | undefined> = {
    unique: scalar(key),
    'unique-with-suffix': scalar(`${key}${fuzzCase.keySuffix}`),
    missing: undefined,
    number: scalar(42),
    empty: scalar(''),
  };
  const id = idValue[fuzzCase.keyShape];
  // A generated field named `id` would replace the unique key (JSON.parse keeps the last).
  return object([
    ...(id ? [['id', id] as const] : []),
    ...fuzzCase.payloadFields.filter(([name]) => name !== 'id'),
  ]);
}

/** A consistent case has `set`/`add` only on an update, and an update has at least one of them. */
function setAndAdd(fuzzCase: FuzzCase): Pick<FuzzCase, 'set' | 'add'> {
  if (fuzzCase.shape !== 'consistent') return { set: fuzzCase.set, add: fuzzCase.add };
  if (fuzzCase.op !== 'update') return { set: undefined, add: undefined };
  if (!fuzzCase.set && !fuzzCase.add) return { set: [['status', scalar('updated')]], add: undefined };
  return { set: fuzzCase.set, add: fuzzCase.add };
}

/** Sends one case and judges the answer; a 2xx also yields what the target must hold. */
export async function sendCase(
  wal: FuzzWal,
  namespace: string,
  fuzzCase: FuzzCase,
  key: string,
): Promise<CaseResult> {
  const { body, headers } = buildRequest(fuzzCase, key);
  const describe: Describe = (what) =>
    `${what}; request: POST ${namespace} ${JSON.stringify(headers)} ${body.slice(0, 2_000)}`;
  let answer: RawAnswer;
  try {
    answer = await post(`${wal.apiUrl}/v1/namespaces/${encodeURIComponent(namespace)}/mutations`, {
      method: 'POST',
      headers,
      body,
    });
  } catch (error) {
    return { verdict: 'crash', status: 0, problem: describe(`no answer: ${String(error)}`) };
  }
  return judgeAnswer(answer, describe, { body, key, headerKey: headers['idempotency-key'] });
}

/** Says what went wrong, followed by the request that caused it. */
type Describe = (what: string) => string;

/** An HTTP answer as read off the wire, before any judgement. */
interface RawAnswer {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
}

/** Posts a request and reads its whole answer; throws when there is no answer. */
async function post(url: string, init: RequestInit): Promise<RawAnswer> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

/** Every answer must be JSON; its status class decides what else it must be. */
/** The request a 2xx answers: its body, the runner's item key, and the Idempotency-Key header if sent. */
interface SentRequest {
  readonly body: string;
  readonly key: string;
  readonly headerKey: string | undefined;
}

function judgeAnswer(raw: RawAnswer, describe: Describe, sent: SentRequest): CaseResult {
  const { status, text } = raw;
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return {
      verdict: 'crash',
      status,
      problem: describe(`${status} with a body that is not JSON: ${text.slice(0, 200)}`),
    };
  }
  if (status >= 500 && status <= 599)
    return { verdict: '5xx', status, problem: describe(`${status} ${text.slice(0, 500)}`) };
  if (status >= 400 && status <= 499) return judgeRejection(raw, answer, describe);
  if (status < 200 || status > 299)
    return { verdict: 'crash', status, problem: describe(`unexpected status ${status}`) };
  return judgeAcknowledgement(raw, answer, describe, sent);
}

/** A 4xx must be a problem+json whose status matches the answer's and that says what was wrong. */
function judgeRejection(raw: RawAnswer, answer: unknown, describe: Describe): CaseResult {
  const { status, contentType, text } = raw;
  const problem = answer as { status?: unknown; type?: unknown; detail?: unknown };
  const valid =
    contentType === 'application/problem+json' &&
    problem.status === status &&
    typeof problem.type === 'string' &&
    typeof problem.detail === 'string';
  return valid
    ? {
        verdict: '4xx',
        status,
        rejection: String(problem.type).split('/').pop(),
        detail: String(problem.detail),
        problem: describe(String(problem.detail)),
      }
    : {
        verdict: 'crash',
        status,
        problem: describe(`${status} that is not problem+json: ${text.slice(0, 500)}`),
      };
}

/** A 2xx must say the mutation is durable and name it; then the oracle predicts its effect. */
function judgeAcknowledgement(
  raw: RawAnswer,
  answer: unknown,
  describe: Describe,
  sent: SentRequest,
): CaseResult {
  const { status, text } = raw;
  const acknowledged = answer as { durable?: unknown; id?: unknown };
  if (acknowledged.durable !== 'SUCCESS' || typeof acknowledged.id !== 'string') {
    return {
      verdict: 'crash',
      status,
      problem: describe(`${status} without a SUCCESS answer: ${text.slice(0, 500)}`),
    };
  }
  const expectation = expectedEffect(sent, acknowledged.id);
  return expectation ? { verdict: '2xx', status, expectation } : { verdict: '2xx', status, unchecked: true };
}

/** What the target must hold after the request `body` was acknowledged, read as the server reads it. */
function expectedEffect({ body, key, headerKey }: SentRequest, mutationId: string): Expectation | undefined {
  const request = JSON.parse(body) as Record<string, unknown>;
  // A multi-item request (items[]) has no payload: its effect is not predicted here.
  const payload = request.payload as Record<string, unknown> | undefined;
  const itemKey = payload?.id;
  // Only the runner's own fresh keys have a predictable state.
  if (typeof itemKey !== 'string' || !itemKey.startsWith(key)) return undefined;
  const op = request.op ?? 'put';
  let item: unknown;
  if (op === 'put') item = payload;
  else if (op === 'delete') item = undefined;
  else if (op === 'update') {
    // On a fresh key an update creates the item: its key plus the set and added attributes.
    item = Object.fromEntries([
      ['id', itemKey],
      ...Object.entries((request.set as Record<string, unknown> | undefined) ?? {}),
      ...Object.entries((request.add as Record<string, unknown> | undefined) ?? {}),
    ]);
  } else return undefined;
  return {
    key: itemKey,
    mutationId,
    idempotencyKey: typeof request.idempotencyKey === 'string' ? request.idempotencyKey : headerKey,
    item: item === undefined ? undefined : canonicalJson(item),
    payload: canonicalJson(payload),
    request: body.slice(0, 2_000),
  };
}

export interface Mismatch {
  readonly expectation: Expectation;
  readonly found: string;
}

/** Compares each expectation with the target and the GET API, polling the WAL until all hold or time runs out. */
export async function checkApplied(
  wal: FuzzWal,
  namespace: string,
  expectations: readonly Expectation[],
  timeoutMs = 15_000,
): Promise<Mismatch[]> {
  const documents = DynamoDBDocumentClient.from(wal.dynamodb);
  const deadline = Date.now() + timeoutMs;
  let pending = [...expectations];
  let mismatches: Mismatch[] = [];
  for (;;) {
    await drain(wal);
    mismatches = [];
    for (const expectation of pending) {
      const found = await observed(wal, documents, namespace, expectation);
      if (found !== undefined) mismatches.push({ expectation, found });
    }
    // Delayed mutations and retries arrive later: look again until the deadline.
    if (mismatches.length === 0 || Date.now() >= deadline) return mismatches;
    pending = mismatches.map((mismatch) => mismatch.expectation);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Undefined when the target and the GET API show the expectation; else what they show. */
async function observed(
  wal: FuzzWal,
  documents: DynamoDBDocumentClient,
  namespace: string,
  expectation: Expectation,
): Promise<string | undefined> {
  const answer = await documents.send(
    new GetCommand({ TableName: wal.tableName, Key: { id: expectation.key }, ConsistentRead: true }),
  );
  // A delete leaves a tombstone (`_walDeleted`): to a reader, no item.
  const visible = answer.Item && answer.Item._walDeleted !== true ? answer.Item : undefined;
  const item = visible ? canonicalJson(withoutWalAttributes(visible)) : undefined;
  if (item !== expectation.item) return `target item ${item ?? '(none)'}`;
  // The payload is not in the ledger: `view=full` reads it back from the stream.
  const keyQuery = expectation.idempotencyKey
    ? `&idempotencyKey=${encodeURIComponent(expectation.idempotencyKey)}`
    : '';
  const view = await fetch(
    `${wal.apiUrl}/v1/namespaces/${namespace}/mutations/${expectation.mutationId}?view=full${keyQuery}`,
  );
  const text = await view.text();
  if (view.status !== 200) return `GET answered ${view.status} ${text.slice(0, 300)}`;
  const payload = canonicalJson((JSON.parse(text) as { payload?: unknown }).payload);
  return payload === expectation.payload ? undefined : `GET payload ${payload}`;
}

/** Polls every event source until a whole round hands nothing over. */
async function drain(wal: FuzzWal, maxRounds = 100): Promise<void> {
  for (let round = 0; round < maxRounds; round++) {
    if ((await wal.pollOnce()) === 0) return;
  }
}

/** The counts the fuzzer reports. */
export class FuzzTally {
  tried = 0;
  ok = 0;
  rejected = 0;
  serverErrors = 0;
  crashes = 0;
  mismatches = 0;
  unchecked = 0;
  readonly problems: string[] = [];
  /** 4xx answers by problem type. */
  readonly rejections = new Map<string, number>();
  /** The first 4xx of each type, with its request. */
  readonly rejectionSamples: string[] = [];

  add(result: CaseResult): void {
    this.tried++;
    if (result.verdict === '2xx') this.ok++;
    else if (result.verdict === '4xx') this.rejected++;
    else if (result.verdict === '5xx') this.serverErrors++;
    else this.crashes++;
    if (result.unchecked) this.unchecked++;
    if (result.verdict === '4xx') {
      const type = result.rejection ?? 'unknown';
      if (!this.rejections.has(type) && result.problem)
        this.rejectionSamples.push(`${type}: ${result.problem}`);
      this.rejections.set(type, (this.rejections.get(type) ?? 0) + 1);
    } else if (result.problem) this.note(`${result.verdict}: ${result.problem}`);
  }

  addMismatches(mismatches: readonly Mismatch[]): void {
    this.mismatches += mismatches.length;
    for (const { expectation, found } of mismatches) {
      this.note(
        `mismatch: expected ${expectation.item ?? '(no item)'}, found ${found}; request: ${expectation.request}`,
      );
    }
  }

  rejectionSummary(): string {
    return [...this.rejections.entries()]
      .sort(([, a], [, b]) => b - a)
      .map(([type, count]) => `${type}=${count}`)
      .join(' ');
  }

  get clean(): boolean {
    return this.serverErrors === 0 && this.crashes === 0 && this.mismatches === 0;
  }

  summary(): string {
    return (
      `tried=${this.tried} 2xx=${this.ok} 4xx=${this.rejected} 5xx=${this.serverErrors} crashes=${this.crashes} ` +
      `mismatches=${this.mismatches}${this.unchecked > 0 ? ` unchecked-2xx=${this.unchecked}` : ''}`
    );
  }

  private note(problem: string): void {
    if (this.problems.length < 20) this.problems.push(problem);
  }
}

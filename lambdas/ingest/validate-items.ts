import { dynamoValueProblems } from '#lambdas/shared/dynamo-values';
import type { EnvelopeItem } from '#lambdas/shared/envelope';
import { badRequest, ProblemError } from '#lambdas/shared/http/problem';
import type { MutationItemRequest } from '#lambdas/shared/mutation-request';
import { type NamespaceConfig, type TargetConfig, targetResource } from '#lambdas/shared/namespace-config';
import type { UpdateSpec } from '#lambdas/shared/targets/target';
import { type TargetValidator, targetValidator } from '#lambdas/shared/targets/validators';

/**
 * The namespace half of checking a multi-item mutation (`items[]`): every item names a target of the namespace,
 * fits it as a single-target payload would, acts on an item no other item of the mutation acts on, and all of
 * them together fit the namespace's `payload.maxBytes`. What passes is normalised into `envelope.items`.
 */

/** The items of an accepted multi-item mutation, and the key that orders it when the client gives none. */
export interface AcceptedItems {
  readonly items: EnvelopeItem[];
  /** The first item's key on its target (a DynamoDB item key), else undefined: the mutation id orders it. */
  readonly partitionKey: string | undefined;
}

interface ResolvedItem {
  readonly index: number;
  readonly request: MutationItemRequest;
  readonly config: TargetConfig;
  readonly validator: TargetValidator;
  readonly item: EnvelopeItem;
}

/** One problem of one item: a JSON pointer into the request and what is wrong there. */
interface ItemProblem {
  readonly pointer: string;
  readonly detail: string;
}

/** Checks the items against the namespace; throws a ProblemError (400, 413) naming the items that are wrong. */
export function acceptItems(config: NamespaceConfig, requests: MutationItemRequest[]): AcceptedItems {
  const resolved = resolveTargets(config, requests);
  checkSize(config, resolved);
  refuse('invalid-payload', "The items do not fit the namespace's targets", resolved.flatMap(itemProblems));
  refuse(
    'duplicate-item',
    'Two items act on the same item; one action per item key (merge them into one item)',
    duplicateProblems(resolved),
  );
  const first = resolved[0];
  return {
    items: resolved.map((entry) => entry.item),
    partitionKey: first ? first.validator.partitionKeyOf(first.item.payload) : undefined,
  };
}

/**
 * The item as a single-target mutation of its target: the item for a put, the key otherwise; a DynamoDB item
 * records its table, so delivery can tell when its target changed since.
 */
function normalise(request: MutationItemRequest, target: TargetConfig): EnvelopeItem {
  const update = {
    ...(request.set ? { set: request.set } : {}),
    ...(request.add ? { add: request.add } : {}),
  };
  return {
    target: request.target,
    ...(target.type === 'dynamodb' && target.tableName !== undefined ? { table: target.tableName } : {}),
    op: request.op,
    payload: request.op === 'put' ? request.item : request.key,
    ...(request.op === 'update' ? { update } : {}),
  };
}

function resolveTargets(config: NamespaceConfig, requests: MutationItemRequest[]): ResolvedItem[] {
  const problems: ItemProblem[] = [];
  const resolved: ResolvedItem[] = [];
  for (const [index, request] of requests.entries()) {
    const target = config.targets.find((candidate) => candidate.name === request.target);
    if (!target) {
      problems.push({
        pointer: `/items/${index}/target`,
        detail: `namespace "${config.name}" has no target "${request.target}"`,
      });
      continue;
    }
    const validator = targetValidator(target);
    resolved.push({ index, request, config: target, validator, item: normalise(request, target) });
  }
  const names = config.targets.map((target) => `"${target.name}"`).join(', ');
  refuse(
    'unknown-target',
    `Items name targets the namespace does not have (its targets are ${names})`,
    problems,
  );
  return resolved;
}

/** Everything the envelope carries of the client's items counts toward maxBytes (as for payload, set, add). */
function checkSize(config: NamespaceConfig, resolved: ResolvedItem[]): void {
  const bytes = Buffer.byteLength(JSON.stringify(resolved.map((entry) => entry.item)), 'utf8');
  if (bytes > config.payload.maxBytes) {
    throw new ProblemError(
      413,
      'payload-too-large',
      'Payload too large',
      `The ${resolved.length} items are ${bytes} bytes together (with their targets, keys, "set" and "add"); ` +
        `namespace "${config.name}" takes at most ${config.payload.maxBytes}. Split the mutation.`,
    );
  }
}

function itemProblems({ index, request, validator, item }: ResolvedItem): ItemProblem[] {
  const field = request.op === 'put' ? 'item' : 'key';
  // A validator's problems are plain strings: those the payload alone has are the item's or key's; what "set"
  // or "add" alone adds to them is theirs; what only both together have (an attribute in both) is "set"'s.
  const own = validator.validate(item.payload, item.op);
  const added = (update: UpdateSpec, known: string[]) =>
    validator.validate(item.payload, item.op, update).filter((detail) => !known.includes(detail));
  const set = request.set ? added({ set: request.set }, own) : [];
  const add = request.add ? added({ add: request.add }, own) : [];
  const both = item.update ? added(item.update, [...own, ...set, ...add]) : [];
  const at = (name: string, details: string[]) =>
    details.map((detail) => ({ pointer: `/items/${index}/${name}`, detail }));
  return [
    ...at(field, [...dynamoValueProblems(item.payload, field), ...own]),
    ...at('set', [...dynamoValueProblems(request.set ?? {}, 'set'), ...set, ...both]),
    ...at('add', add),
  ];
}

/**
 * The identity of the item an item acts on. A DynamoDB target's is its table and key (two targets may share a
 * table; a transaction may act on each item once). A message-like target's receivers dedup by the mutation id,
 * which all items share: one item per queue, topic, bus, function or URL, whichever targets name it (a target
 * whose resource the stack provisions has its own).
 */
function itemIdentity({ config, item }: ResolvedItem): string {
  if (config.type !== 'dynamodb') {
    const resource = targetResource(config);
    return JSON.stringify(resource === undefined ? ['target', config.name] : ['resource', resource]);
  }
  const payload = item.payload as Record<string, unknown>;
  const keys = [config.key.partitionKey, ...(config.key.sortKey ? [config.key.sortKey] : [])];
  return JSON.stringify(['table', config.tableName ?? config.name, ...keys.map((key) => payload[key])]);
}

function duplicateProblems(resolved: ResolvedItem[]): ItemProblem[] {
  const seen = new Map<string, ResolvedItem>();
  const problems: ItemProblem[] = [];
  for (const entry of resolved) {
    const identity = itemIdentity(entry);
    const earlier = seen.get(identity);
    if (!earlier) {
      seen.set(identity, entry);
      continue;
    }
    const field = entry.request.op === 'put' ? 'item' : 'key';
    problems.push({
      pointer: `/items/${entry.index}/${field}`,
      detail:
        entry.config.type === 'dynamodb'
          ? `acts on the same item as /items/${earlier.index} (target "${earlier.config.name}", same table and key)`
          : `goes to the same ${entry.config.type} destination as /items/${earlier.index} (target "${earlier.config.name}"): a message-like destination takes one item per mutation, since its receivers dedup by the mutation id`,
    });
  }
  return problems;
}

/** Throws a 400 listing the problems (each with its pointer), if there are any. */
function refuse(slug: string, what: string, problems: ItemProblem[]): void {
  if (problems.length === 0) return;
  throw badRequest(
    slug,
    `${what}: ${problems.map((problem) => `${problem.pointer}: ${problem.detail}`).join('; ')}`,
    { errors: problems },
  );
}

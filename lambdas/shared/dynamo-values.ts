/**
 * Checks that a JSON value can be stored in DynamoDB as the SDK marshals it — in DynamoDB targets (and
 * queue messages' consumers) — so that such input is a 400 at ingest, not a dead letter later.
 */

// Kept from when the ledger item held envelope -> payload (or update.set): three levels of DynamoDB's 32.
const MAX_NESTING = 28;
const MAX_PROBLEMS = 5;

export function dynamoValueProblems(value: unknown, path: string): string[] {
  const problems: string[] = [];
  visit(value, path, 0, problems);
  return problems;
}

/** Why DynamoDB (as the SDK marshals it) cannot hold this number exactly, or undefined when it can. */
export function numberProblem(value: number): string | undefined {
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return `${value} is an integer beyond ±(2^53 - 1) and would lose digits; send it as a string`;
  }
  if (value !== 0 && (Math.abs(value) < 1e-130 || Math.abs(value) >= 1e126)) {
    return `${value} is outside DynamoDB's number range (1e-130 to 1e126)`;
  }
  return undefined;
}

function visit(value: unknown, path: string, depth: number, problems: string[]): void {
  if (problems.length >= MAX_PROBLEMS) return;
  if (depth > MAX_NESTING) {
    problems.push(`${path}: nested deeper than ${MAX_NESTING} levels`);
    return;
  }
  if (typeof value === 'number') {
    const problem = numberProblem(value);
    if (problem) problems.push(`${path}: ${problem}`);
    return;
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) visit(item, `${path}[${index}]`, depth + 1, problems);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, field] of Object.entries(value)) {
      if (key === '') problems.push(`${path}: has an empty attribute name`);
      visit(field, `${path}.${key}`, depth + 1, problems);
    }
  }
}

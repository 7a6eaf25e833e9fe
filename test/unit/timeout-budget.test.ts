import { Duration } from 'aws-cdk-lib';
import {
  DEFAULT_SDK_BUDGET,
  InvalidSdkBudgetError,
  SDK_BUDGET_ENV,
  sdkBudgetEnvironment,
  sdkBudgetFromEnvironment,
  worstCaseBackoffMs,
  worstCaseCallMs,
} from '#lambdas/shared/sdk-budget';
import {
  checkBatchPath,
  consumerSdkBudget,
  deriveSdkBudget,
  INGEST_WORST_PATH_CALLS,
  ingestSdkBudget,
  TimeoutsDoNotNestError,
} from '#lib/timeout-budget';
import { INGEST_TIMEOUT } from '#lib/wal-defaults';

describe('worst case of one SDK call', () => {
  test('is attempts x (connection + request) plus throttled backoff (1 s, 2 s, ... capped at 20 s)', () => {
    // WHEN/THEN the backoffs of 1, 3 and 7 attempts, and a whole call of 3 attempts
    expect(worstCaseBackoffMs(1)).toBe(0);
    expect(worstCaseBackoffMs(3)).toBe(1_000 + 2_000);
    expect(worstCaseBackoffMs(7)).toBe(1_000 + 2_000 + 4_000 + 8_000 + 16_000 + 20_000);
    expect(worstCaseCallMs({ maxAttempts: 3, connectionTimeoutMs: 1_000, requestTimeoutMs: 3_000 })).toBe(
      15_000,
    );
  });

  test('the previous client settings (5 s x 3 attempts) did not fit the 10 s ingest timeout', () => {
    // WHEN/THEN the old default budget is measured against the 10 s timeout
    expect(worstCaseCallMs(DEFAULT_SDK_BUDGET)).toBeGreaterThan(10_000);
  });
});

describe('deriveSdkBudget', () => {
  test('gives 3 attempts of 1 s + 3 s when 15 s are available', () => {
    // WHEN/THEN 15 s are shared out
    expect(deriveSdkBudget('x', Duration.seconds(15))).toEqual({
      maxAttempts: 3,
      connectionTimeoutMs: 1_000,
      requestTimeoutMs: 3_000,
    });
  });

  test('drops attempts before it drops below 500 ms per attempt', () => {
    // WHEN only 3.5 s are available
    const budget = deriveSdkBudget('x', Duration.millis(3_500));
    // THEN fewer attempts, and the worst case still fits
    expect(budget.maxAttempts).toBe(2);
    expect(worstCaseCallMs(budget)).toBeLessThanOrEqual(3_500);
  });

  test('fails if not even one attempt of 500 ms fits', () => {
    // WHEN/THEN 499 ms are available: the error names what did not fit
    expect(() => deriveSdkBudget('the thing', Duration.millis(499))).toThrow(TimeoutsDoNotNestError);
    expect(() => deriveSdkBudget('the thing', Duration.millis(499))).toThrow(/the thing/);
  });
});

describe('ingestSdkBudget', () => {
  test('the default ingest timeout fits its 4 calls and a cold start under 30 s', () => {
    // WHEN the ingest timeout's budget is derived
    const budget = ingestSdkBudget(INGEST_TIMEOUT);
    // THEN its worst path and a cold start fit under API Gateway's 30 s
    expect(INGEST_WORST_PATH_CALLS * worstCaseCallMs(budget)).toBeLessThan(INGEST_TIMEOUT.toMilliseconds());
    expect(INGEST_TIMEOUT.toSeconds() + 10).toBeLessThan(30);
  });

  test("fails if the ingest timeout plus a 10 s cold start reaches API Gateway's 30 s", () => {
    // WHEN/THEN a 20 s ingest timeout is asked for
    expect(() => ingestSdkBudget(Duration.seconds(20))).toThrow(/API Gateway's 30000 ms integration timeout/);
  });

  test('the default ingest timeout leaves time for a batch to resend refused PutRecords entries', () => {
    // GIVEN the default ingest timeout's budget
    const budget = ingestSdkBudget(INGEST_TIMEOUT);
    // WHEN the batch path is checked THEN it holds
    expect(() => checkBatchPath(INGEST_TIMEOUT, budget)).not.toThrow();
  });

  test('fails if the batch endpoint could never resend a refused PutRecords entry', () => {
    // GIVEN SDK calls of up to 3.4 s (the budget of a 15 s timeout) in a 10 s timeout
    const budget = ingestSdkBudget(INGEST_TIMEOUT);
    // WHEN/THEN the batch path is checked: a resend and the 2 calls after it do not fit in 9 s
    expect(() => checkBatchPath(Duration.seconds(10), budget)).toThrow(/no time for one PutRecords resend/);
  });

  test('fails if the ingest timeout is too short for its 4 calls', () => {
    // WHEN/THEN a 2 s ingest timeout is asked for
    expect(() => ingestSdkBudget(Duration.seconds(2))).toThrow(TimeoutsDoNotNestError);
  });
});

describe('consumerSdkBudget', () => {
  test('one call takes at most a quarter of the timeout', () => {
    // WHEN/THEN budgets for timeouts from 3 s to 900 s
    for (const seconds of [3, 10, 60, 300, 900]) {
      const budget = consumerSdkBudget(Duration.seconds(seconds));
      expect(worstCaseCallMs(budget)).toBeLessThanOrEqual((seconds * 1000) / 4);
    }
  });
});

describe('sdkBudgetFromEnvironment', () => {
  test('reads the variables the stack sets', () => {
    // GIVEN the variables the stack sets for a budget
    const budget = { maxAttempts: 2, connectionTimeoutMs: 300, requestTimeoutMs: 900 };
    // WHEN/THEN they are read back as the same budget
    expect(sdkBudgetFromEnvironment(sdkBudgetEnvironment(budget))).toEqual(budget);
  });

  test('falls back to the default when none is set', () => {
    // WHEN/THEN no variable is set
    expect(sdkBudgetFromEnvironment({})).toEqual(DEFAULT_SDK_BUDGET);
  });

  test.each([
    // GIVEN each invalid maxAttempts value
    ['not a number', 'abc'],
    ['zero', '0'],
    ['missing while the others are set', undefined],
  ])('fails if a variable is %s', (_case, value) => {
    // GIVEN the stack's variables with maxAttempts replaced
    const environment = { ...sdkBudgetEnvironment(DEFAULT_SDK_BUDGET), [SDK_BUDGET_ENV.maxAttempts]: value };
    // WHEN/THEN they are read
    expect(() => sdkBudgetFromEnvironment(environment)).toThrow(InvalidSdkBudgetError);
  });
});

import fc from 'fast-check';
import { type FuzzCase, fuzzCaseArbitrary, specialNameCaseArbitrary } from '#src/fuzz/arbitraries';
import { type CaseResult, checkApplied, FUZZ_NAMESPACE, type FuzzWal, sendCase } from '#src/fuzz/ingest-fuzz';
import type { LocalWal } from '#src/local/runtime/local-wal';
import { targetTableName, withTestWal } from '#test/support/local-wal-harness';

/**
 * The ingest API's fuzz property, small enough for `npm test` (`npm run fuzz` runs it at scale):
 * random payloads and request shapes get 2xx or a 4xx problem+json, and each 2xx reaches the target
 * exactly as sent (also through GET /mutations/{id}).
 */
describe('ingest API fuzz property (emulators)', () => {
  let wal: LocalWal;
  let fuzzWal: FuzzWal;

  withTestWal(async (started) => {
    wal = started;
    fuzzWal = {
      apiUrl: wal.apiUrl,
      dynamodb: wal.clients.dynamodb,
      tableName: await targetTableName(wal, 'it', FUZZ_NAMESPACE, 'main'),
      pollOnce: () => wal.pollOnce(),
    };
  });

  let counter = 0;
  const verdicts = new Map<string, number>();
  let lastResult: CaseResult | undefined;

  /** The property for one case: a 2xx or a 4xx problem+json, and a 2xx applied as sent. */
  async function answersAndAppliesAsSent(fuzzCase: FuzzCase): Promise<void> {
    // Prepare: a key no other run uses, so the item's expected state depends on this run alone
    const key = `it-${process.pid}-${counter++}`;
    // Act
    const result = await sendCase(fuzzWal, fuzzCase.namespace, fuzzCase, key);
    verdicts.set(result.verdict, (verdicts.get(result.verdict) ?? 0) + 1);
    lastResult = result;
    // Assess
    expect(result).toMatchObject({ verdict: expect.stringMatching(/^(2xx|4xx)$/) });
    expect(result.unchecked).toBeUndefined();
    if (result.expectation) {
      expect(await checkApplied(fuzzWal, FUZZ_NAMESPACE, [result.expectation], 5_000)).toEqual([]);
    }
  }

  it('answers 2xx or 4xx problem+json to random requests, and applies every 2xx as sent', async () => {
    // GIVEN random requests (fast-check); WHEN each is sent; THEN the property holds for each
    verdicts.clear();
    await fc.assert(fc.asyncProperty(fuzzCaseArbitrary, answersAndAppliesAsSent), {
      numRuns: Number(process.env.WAL_FUZZ_RUNS ?? 40),
      endOnFailure: true,
    });
    // AND both kinds of answer were exercised, or the property proved little
    expect(verdicts.get('2xx')).toBeGreaterThan(0);
    expect(verdicts.get('4xx')).toBeGreaterThan(0);
  }, 120_000);

  it('stores or rejects (naming the field) payloads with one JavaScript-special field name', async () => {
    // GIVEN payloads with one JavaScript-special name; WHEN each is sent; THEN it is stored, or refused if __proto__
    const property = async (fuzzCase: FuzzCase) => {
      await answersAndAppliesAsSent(fuzzCase);
      // Only "__proto__" is refused, and the answer names its field by JSON pointer
      const names = JSON.stringify([fuzzCase.payloadFields, fuzzCase.set]);
      if (!names.includes('"__proto__"')) expect(lastResult?.verdict).toBe('2xx');
      else
        expect(lastResult).toMatchObject({ verdict: '4xx', detail: expect.stringMatching(/\/__proto__: /) });
    };
    await fc.assert(fc.asyncProperty(specialNameCaseArbitrary, property), {
      numRuns: 30,
      endOnFailure: true,
    });
  }, 120_000);
});

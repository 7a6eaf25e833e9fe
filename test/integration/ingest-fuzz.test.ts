import fc from 'fast-check';
import { fuzzCaseArbitrary } from '../../src/fuzz/arbitraries';
import { checkApplied, FUZZ_NAMESPACE, type FuzzWal, sendCase } from '../../src/fuzz/ingest-fuzz';
import type { LocalWal } from '../../src/local/runtime/local-wal';
import { startTestWal, targetTableName } from '../support/local-wal-harness';

/**
 * The ingest API's fuzz property, small enough for `npm test` (`npm run fuzz` runs it at scale):
 * random payloads and request shapes get 2xx or a 4xx problem+json, and each 2xx reaches the target
 * exactly as sent (also through GET /mutations/{id}).
 */
describe('ingest API fuzz property (emulators)', () => {
  let wal: LocalWal;
  let fuzzWal: FuzzWal;

  beforeAll(async () => {
    wal = await startTestWal();
    fuzzWal = {
      apiUrl: wal.apiUrl,
      dynamodb: wal.clients.dynamodb,
      tableName: await targetTableName(wal, 'it', FUZZ_NAMESPACE, 'main'),
      pollOnce: () => wal.pollOnce(),
    };
  });

  afterAll(async () => {
    await wal?.stop();
  });

  it('answers 2xx or 4xx problem+json, and applies every 2xx as sent', async () => {
    let counter = 0;
    const verdicts = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fuzzCaseArbitrary, async (fuzzCase) => {
        // Prepare: a key no other run uses, so the item's expected state depends on this run alone
        const key = `it-${process.pid}-${counter++}`;
        // Act
        const result = await sendCase(fuzzWal, fuzzCase.namespace, fuzzCase, key);
        verdicts.set(result.verdict, (verdicts.get(result.verdict) ?? 0) + 1);
        // Assess
        expect(result).toMatchObject({ verdict: expect.stringMatching(/^(2xx|4xx)$/) });
        expect(result.unchecked).toBeUndefined();
        if (result.expectation) {
          expect(await checkApplied(fuzzWal, FUZZ_NAMESPACE, [result.expectation], 5_000)).toEqual([]);
        }
      }),
      { numRuns: Number(process.env.WAL_FUZZ_RUNS ?? 40), endOnFailure: true },
    );
    // Both kinds of answer were exercised, or the property proved little.
    expect(verdicts.get('2xx')).toBeGreaterThan(0);
    expect(verdicts.get('4xx')).toBeGreaterThan(0);
  }, 120_000);
});

import {
  boundErrorText,
  ERROR_TEXT_MAX_BYTES,
  ITEM_ERRORS_MAX_BYTES,
  maxQueueMessageBytes,
  withBoundedErrorTexts,
} from '#lambdas/shared/message-budget';

const jsonBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text), 'utf8');

describe('boundErrorText', () => {
  test('keeps a short text as it is', () => {
    // WHEN/THEN a short error text is bounded
    expect(boundErrorText('ResourceNotFoundException: Requested resource not found')).toBe(
      'ResourceNotFoundException: Requested resource not found',
    );
  });

  test.each([
    // GIVEN each kind of character, with one of them
    ['ASCII', 'x'],
    ['control characters (6 bytes each as JSON)', '\u0001'],
    ['emoji (surrogate pairs)', '😀'],
    ['3-byte characters', '€'],
  ])('cuts a 1 MB text of %s to the budget, marked as cut', (_kind, unit) => {
    // GIVEN an error text far over the budget
    const text = unit.repeat(1_000_000);
    // WHEN
    const bounded = boundErrorText(text);
    // THEN
    expect(jsonBytes(bounded)).toBeLessThanOrEqual(ERROR_TEXT_MAX_BYTES);
    expect(bounded.endsWith(' … (cut)')).toBe(true);
    expect(text.startsWith(bounded.slice(0, -' … (cut)'.length))).toBe(true);
    // No lone half of a surrogate pair at the cut.
    expect(bounded).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('withBoundedErrorTexts', () => {
  test('cuts lastError and reason and leaves every other field alone', () => {
    // GIVEN a retry message whose error texts are huge
    const message = {
      kind: 'retry',
      target: 'main',
      attempt: 3,
      lastError: 'e'.repeat(500_000),
      reason: 'r'.repeat(500_000),
    };
    // WHEN
    const bounded = withBoundedErrorTexts(message);
    // THEN
    expect(jsonBytes(bounded.lastError)).toBeLessThanOrEqual(ERROR_TEXT_MAX_BYTES);
    expect(jsonBytes(bounded.reason)).toBeLessThanOrEqual(ERROR_TEXT_MAX_BYTES);
    expect(bounded).toMatchObject({ kind: 'retry', target: 'main', attempt: 3 });
    expect(message.lastError).toHaveLength(500_000);
  });

  test("cuts each item's error to its share of the item errors' budget", () => {
    // GIVEN a multi-item retry message with 100 huge item errors and one short one
    const itemErrors = Array.from({ length: 100 }, (_, index) => ({ index, error: 'e'.repeat(100_000) }));
    const message = { kind: 'retry', itemErrors: [...itemErrors, { index: 100, error: 'short' }] };
    // WHEN
    const bounded = withBoundedErrorTexts(message);
    // THEN all of them together fit the budget, each keeps its index, and a short one is left alone
    expect(jsonBytes(bounded.itemErrors.map((entry) => entry.error).join(''))).toBeLessThanOrEqual(
      ITEM_ERRORS_MAX_BYTES,
    );
    expect(bounded.itemErrors.map((entry) => entry.index)).toEqual([...Array(101).keys()]);
    expect(bounded.itemErrors[100]?.error).toBe('short');
    expect(bounded.itemErrors[0]?.error).toMatch(/^e+ … \(cut\)$/);
  });

  test('returns a message without error texts unchanged', () => {
    // GIVEN a message with no error text; WHEN/THEN it is bounded
    const message = { kind: 'deliver', target: 'main', notBefore: 1 };
    expect(withBoundedErrorTexts(message)).toEqual(message);
  });
});

test('the budget grows with maxBytes (a check that it can fail)', () => {
  // WHEN/THEN the budget of twice the payload bound is above that of the bound
  expect(maxQueueMessageBytes(2 * 196_608)).toBeGreaterThan(maxQueueMessageBytes(196_608));
});

import { formatFifoReport, isFifoClean } from '#src/chaos/fifo-check';
import { formatReport, formatSent, isClean } from '#src/chaos/reconcile';
import { runChaos } from '#src/chaos/run-chaos';
import { isMultiItem } from '#src/chaos/workload';

const MUTATIONS = 120;

/** Share of multi-item mutations (`items[]` over the main and the side table): the run checks all or nothing. */
const ITEMS_SHARE_IN_TEST = 0.15;

/**
 * The guarantees under faults, checked by the independent oracle: puts, updates (set, add) and
 * deletes on a few shared keys (some delayed), multi-item mutations over two tables (all or nothing), counters on keys of their own, from careful,
 * impatient (overlapping attempts) and keyless clients, through the local WAL while 15% of all AWS
 * calls fail, throttle, lose their answer or slow down, runtimes crash between steps, and the
 * namespace's retry settings change mid-run. Small N for CI; the same run at scale is
 * `npm run chaos -- --mutations 5000 --fault-rate 0.15` (add `--outage target:30` for an outage).
 */
describe('chaos: every op, every client, in the WAL order, nothing lost or applied twice, no FAIL applied', () => {
  it('keeps every guarantee with 15% faults, crashes and a config change', async () => {
    // GIVEN the local WAL with 15% faults at every AWS call, 2% crashes and a mid-run config change
    // WHEN 120 mutations of every op and client kind are sent and settle
    const { report, fifo, results } = await runChaos({
      mutations: MUTATIONS,
      faultRate: 0.15,
      crashRate: 0.02,
      concurrency: 16,
      itemsShare: ITEMS_SHARE_IN_TEST,
      settleTimeoutMs: 150_000,
    });
    // THEN: the line and the examples are in the failure message
    const line = `${formatReport(report)}\n${formatSent(report)}`;
    expect({
      line,
      problems: report.problems,
      lost: report.lost,
      doubleApplied: report.doubleApplied,
      failedButApplied: report.failedButApplied,
      unresolved: report.unresolved,
      orderViolations: report.orderViolations,
      itemsPartial: report.itemsPartial,
    }).toEqual({
      line,
      problems: [],
      lost: 0,
      doubleApplied: 0,
      failedButApplied: 0,
      unresolved: 0,
      orderViolations: 0,
      itemsPartial: 0,
    });
    expect(isClean(report)).toBe(true);
    expect(report.acked + report.failed).toBe(MUTATIONS);
    expect(report.applied + report.dlq).toBe(report.acked);
    // The workload really had every op and client, and the faults really happened.
    const ops = ['put', 'update-set', 'update-add', 'delete', 'counter', 'keyless-counter', 'delayed'];
    for (const op of ITEMS_SHARE_IN_TEST > 0 ? [...ops, 'items'] : ops) {
      expect({ op, sent: (report.sent[op] ?? 0) > 0 }).toEqual({ op, sent: true });
    }
    expect(report.sent['abandoned-attempts']).toBeGreaterThan(0);
    expect(report.unknown).toBeGreaterThan(0);
    // AND the namespace's SQS FIFO target, seen from its receiver: every acked id, each dedup id once
    expect(fifo && { line: formatFifoReport(fifo), problems: fifo.problems }).toEqual({
      line: expect.stringContaining('lost=0'),
      problems: [],
    });
    expect(fifo && isFifoClean(fifo)).toBe(true);
    // Multi-item mutations reach their tables only, not the queue.
    const ackedSingle = results.filter((r) => r.outcome === 'acked' && !isMultiItem(r.mutation)).length;
    expect((fifo?.delivered ?? 0) + (fifo?.dlq ?? 0)).toBe(ackedSingle);
    // Nothing in this run is refused for good: a FIFO target that dead-lettered its deliveries would show here.
    expect(fifo?.dlq).toBe(0);
  }, 300_000);

  it('keeps every guarantee through a 5 s outage of the target table', async () => {
    // GIVEN the local WAL without random faults, and its target table down 5 s into the sending
    // WHEN 60 mutations are sent across the outage and settle
    const { report, outages } = await runChaos({
      mutations: 60,
      faultRate: 0,
      crashRate: 0,
      concurrency: 8,
      settleTimeoutMs: 120_000,
      outages: [{ resource: 'target', seconds: 5 }],
      outageDelayMs: 500,
      configChange: false,
      itemsShare: ITEMS_SHARE_IN_TEST,
    });
    // THEN the outage hit the table the namespace's config names, and nothing was lost or applied twice
    expect(outages).toHaveLength(1);
    expect(outages[0]?.resource).toMatch(/Target/);
    expect({ line: formatReport(report), problems: report.problems }).toEqual({
      line: formatReport(report),
      problems: [],
    });
    expect(isClean(report)).toBe(true);
    expect(report.applied + report.dlq).toBe(report.acked);
    expect(report.acked).toBeGreaterThan(0);
  }, 300_000);
});

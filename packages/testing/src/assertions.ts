/**
 * Assertions on what the in-memory API applied: sums of usage and matching runs, with messages that name
 * the expected and the actual values (they throw plain `Error`s, so any test runner shows them).
 */

import { round6 } from './http';
import { canonical } from './idempotency';
import type { AppliedRun, AppliedUsage, RunExpectation, UsageExpectation } from './test-drip';

/** Whether a usage record is of this customer and/or meter. */
export function matchesUsage(u: AppliedUsage, filter: { customerId?: string; meter?: string }): boolean {
  return (
    (filter.customerId === undefined || u.customerId === filter.customerId) &&
    (filter.meter === undefined || u.meter === filter.meter)
  );
}

/** Whether a run matches every given field of the expectation (events in order, by their given fields). */
export function runMatches(r: AppliedRun, e: RunExpectation): boolean {
  if (e.workflow !== undefined && r.workflow !== e.workflow) return false;
  if (e.status !== undefined && r.status !== e.status) return false;
  if (e.customerId !== undefined && r.customerId !== e.customerId) return false;
  if (e.externalRunId !== undefined && r.externalRunId !== e.externalRunId) return false;
  if (typeof e.events === 'number' && r.events.length !== e.events) return false;
  if (Array.isArray(e.events)) {
    if (r.events.length !== e.events.length) return false;
    for (let i = 0; i < e.events.length; i++) {
      const want = e.events[i] ?? { eventType: '' };
      const got = r.events[i] ?? {};
      for (const [k, v] of Object.entries(want)) {
        if (canonical((got as Record<string, unknown>)[k]) !== canonical(v)) return false;
      }
    }
  }
  return true;
}

/** Sum of applied usage quantities, optionally for one customer and/or meter. */
export function totalUsage(
  usage: readonly AppliedUsage[],
  filter: { customerId?: string; meter?: string } = {},
): number {
  let sum = 0;
  for (const u of usage) if (matchesUsage(u, filter)) sum += u.quantity;
  return round6(sum);
}

/** Throws an `Error` describing the difference unless the applied usage matches. */
export function expectUsage(usage: readonly AppliedUsage[], expected: UsageExpectation): void {
  const filter: { customerId?: string; meter?: string } = {};
  if (expected.customerId !== undefined) filter.customerId = expected.customerId;
  if (expected.meter !== undefined) filter.meter = expected.meter;
  const matching = usage.filter((u) => matchesUsage(u, filter));
  const total = totalUsage(usage, filter);
  const what = `usage${expected.customerId ? ` of ${expected.customerId}` : ''}${expected.meter ? ` on ${expected.meter}` : ''}`;
  if (total !== round6(expected.quantity)) {
    throw new Error(
      `expected ${what} to total ${expected.quantity}, got ${total} in ${matching.length} record(s)`,
    );
  }
  if (expected.records !== undefined && matching.length !== expected.records) {
    throw new Error(`expected ${what} in ${expected.records} record(s), got ${matching.length}`);
  }
}

/** Throws an `Error` listing the recorded runs unless one (or `count`) matches; returns the first match. */
export function expectRun(runs: readonly AppliedRun[], expected: RunExpectation): AppliedRun {
  const found = runs.filter((r) => runMatches(r, expected));
  const ok = expected.count === undefined ? found.length > 0 : found.length === expected.count;
  if (!ok || !found[0]) {
    const list = runs
      .map(
        (r) =>
          `  ${r.workflow} ${r.status} customer=${r.customerId} events=[${r.events.map((e) => e.eventType).join(', ')}]`,
      )
      .join('\n');
    throw new Error(
      `expected ${expected.count ?? 'a'} run(s) matching ${canonical(expected)}, found ${found.length}; recorded runs:\n${list || '  (none)'}`,
    );
  }
  return found[0];
}

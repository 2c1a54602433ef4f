/**
 * The shared outcome suite: ONE table of how a metered request can end and what must reach the Drip API
 * for it, run by every adapter's tests inside its real framework (and by the Hono runtime script on Bun,
 * Deno and workerd). Dependency-free and runtime-neutral on purpose: each runner brings its framework,
 * its in-memory API (`@drip/testing`) and its way of being a client (a real socket, `app.request`,
 * `new Request()`), and this module says what each case does and what must be billed and recorded.
 *
 * Every case is served for its own customer (`customerOf`), so one app and one API serve the whole table.
 */

/** How the handler ends the request. */
export type OutcomeKind =
  | 'completed'
  | 'client-error'
  | 'server-error'
  | 'thrown'
  | 'aborted-mid-body'
  | 'streamed-completed'
  | 'streamed-cancelled';

/** Whether the handler adds extra usage, and how: none, plain `usage()`, or `{ billOn: 'always' }`. */
export type ExtraMode = 'none' | 'outcome' | 'always';

/** One row of the table. */
export interface OutcomeCase {
  name: string;
  kind: OutcomeKind;
  extra: ExtraMode;
  /** Status the client sees (undefined when it leaves before the end). */
  status: number | undefined;
  /** Whether the client leaves after the first body chunk (cancels the body / closes the socket). */
  clientLeaves: boolean;
  /** Expected default-meter quantity billed. */
  billed: number;
  /** Expected extra-meter quantity billed. */
  extraBilled: number;
  /** Expected run status. */
  run: 'COMPLETED' | 'FAILED' | 'CANCELLED';
}

/** The default meter and the extra meter the handlers use. */
export const DEFAULT_METER = 'api_calls';
export const EXTRA_METER = 'extra_units';
export const EXTRA_QUANTITY = 5;
/** What a streamed body sends, chunk by chunk, when it completes. */
export const STREAM_CHUNKS = ['one\n', 'two\n', 'three\n'] as const;
/** The first chunk every body that the client leaves early sends. */
export const FIRST_CHUNK = 'first\n';

/** Per kind: the status, whether the client leaves, whether the outcome bills (default `billOn`), the run. */
const KINDS: Record<
  OutcomeKind,
  { status: number | undefined; clientLeaves: boolean; bills: boolean; run: OutcomeCase['run'] }
> = {
  completed: { status: 200, clientLeaves: false, bills: true, run: 'COMPLETED' },
  'client-error': { status: 400, clientLeaves: false, bills: false, run: 'COMPLETED' },
  'server-error': { status: 503, clientLeaves: false, bills: false, run: 'FAILED' },
  thrown: { status: 500, clientLeaves: false, bills: false, run: 'FAILED' },
  'aborted-mid-body': { status: undefined, clientLeaves: true, bills: false, run: 'CANCELLED' },
  'streamed-completed': { status: 200, clientLeaves: false, bills: true, run: 'COMPLETED' },
  'streamed-cancelled': { status: undefined, clientLeaves: true, bills: false, run: 'CANCELLED' },
};

const EXTRAS: readonly ExtraMode[] = ['none', 'outcome', 'always'];

/** Every case: each way of ending, without extra usage, with plain extra usage, and with `billOn: 'always'`. */
export const OUTCOME_CASES: readonly OutcomeCase[] = (Object.keys(KINDS) as OutcomeKind[]).flatMap((kind) =>
  EXTRAS.map((extra) => {
    const k = KINDS[kind];
    return {
      name: `${kind}, extra usage: ${extra}`,
      kind,
      extra,
      status: k.status,
      clientLeaves: k.clientLeaves,
      billed: k.bills ? 1 : 0,
      extraBilled: extra === 'none' ? 0 : extra === 'always' || k.bills ? EXTRA_QUANTITY : 0,
      run: k.run,
    };
  }),
);

/** The customer a case is served for (sent in the `x-customer-id` header). */
export function customerOf(c: OutcomeCase): string {
  return `cus_${c.kind}_${c.extra}`;
}

/** The path a runner requests for a case; the app's route is `/outcome/:kind`. */
export function pathOf(c: OutcomeCase): string {
  return `/outcome/${c.kind}?extra=${c.extra}`;
}

/** The `extra` query parameter of a request URL (handlers read it to know what to add). */
export function extraOf(url: string): ExtraMode {
  const m = /[?&]extra=(none|outcome|always)/.exec(url);
  return (m?.[1] as ExtraMode | undefined) ?? 'none';
}

/** The part of a request context the handlers use. */
export interface UsageTarget {
  usage(meter: string, quantity?: number, options?: { billOn?: 'outcome' | 'always' }): void;
}

/**
 * Whether the handler adds the case's extra usage before it returns (every kind but the streamed ones,
 * whose bodies add it while streaming, after the handler returned).
 */
export function extraBeforeReturn(kind: OutcomeKind): boolean {
  return kind !== 'streamed-completed' && kind !== 'streamed-cancelled';
}

/** Adds the case's extra usage through the adapter's request context. */
export function addExtra(drip: UsageTarget | undefined, extra: ExtraMode): void {
  if (drip === undefined || extra === 'none') return;
  drip.usage(EXTRA_METER, EXTRA_QUANTITY, extra === 'always' ? { billOn: 'always' } : undefined);
}

/**
 * A body for the web runners: `aborted-mid-body` sends one chunk and stays open until cancelled;
 * `streamed-*` send chunks as a stream would (extra usage added after the handler returned, while
 * streaming), completing or waiting to be cancelled.
 */
export function webBody(
  kind: OutcomeKind,
  drip: UsageTarget | undefined,
  extra: ExtraMode,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  let release: (() => void) | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (kind === 'streamed-completed') {
        if (i === 1) addExtra(drip, extra);
        const chunk = STREAM_CHUNKS[i++];
        if (chunk === undefined) controller.close();
        else controller.enqueue(encoder.encode(chunk));
        return;
      }
      if (i++ === 0) {
        if (kind === 'streamed-cancelled') addExtra(drip, extra);
        controller.enqueue(encoder.encode(FIRST_CHUNK));
        return;
      }
      // Stay open until the client leaves (cancel resolves this).
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    cancel() {
      release?.();
    },
  });
}

/** What a runner reads back from the in-memory API (`@drip/testing`'s `usage` and `runs`). */
export interface Applied {
  usage: ReadonlyArray<{ customerId: string; meter: string; quantity: number }>;
  runs: ReadonlyArray<{ customerId: string; status: string }>;
}

/** Whether the case's run reached the API (every case records one): then its records are all enqueued. */
export function runArrived(c: OutcomeCase, applied: Applied): boolean {
  const customer = customerOf(c);
  return applied.runs.some((r) => r.customerId === customer);
}

/** The differences between what reached the API for a case and what the table says; empty when right. */
export function outcomeProblems(c: OutcomeCase, applied: Applied, observedStatus?: number): string[] {
  const customer = customerOf(c);
  const total = (meter: string) =>
    applied.usage
      .filter((u) => u.customerId === customer && u.meter === meter)
      .reduce((sum, u) => sum + u.quantity, 0);
  const problems: string[] = [];
  if (c.status !== undefined && observedStatus !== undefined && observedStatus !== c.status) {
    problems.push(`status ${observedStatus}, expected ${c.status}`);
  }
  if (total(DEFAULT_METER) !== c.billed)
    problems.push(`${DEFAULT_METER} billed ${total(DEFAULT_METER)}, expected ${c.billed}`);
  if (total(EXTRA_METER) !== c.extraBilled) {
    problems.push(`${EXTRA_METER} billed ${total(EXTRA_METER)}, expected ${c.extraBilled}`);
  }
  const runs = applied.runs.filter((r) => r.customerId === customer);
  if (runs.length !== 1) problems.push(`${runs.length} runs, expected 1`);
  else if (runs[0]?.status !== c.run) problems.push(`run ${runs[0]?.status}, expected ${c.run}`);
  return problems;
}

/** Waits (bounded, not timed: it polls until the condition holds) for a condition. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

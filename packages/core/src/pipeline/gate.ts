/**
 * The optional gate before the handler (`gate` option): entitlement, balance and spending-cap checks
 * through the client's own methods, one call per customer and check cached for `ttlMs`, and a failure
 * cache so an API outage costs at most one timeout per `failureTtlMs` (default 5 s), not one per request.
 *
 * The app's own ids (`{ externalCustomerId }`): the API's checks take a Drip customer id, so the gate
 * first resolves the external id through the outbox's customer directory (`outbox/customers.ts`: the one
 * resolver, shared with delivery: one cache, one lookup or create per id). With provisioning on (the
 * default) an unknown id is created there, then checked like any customer (a new customer has no
 * balance: a `balance` gate refuses it until it is funded). With `customers: { provision: false }` an
 * unknown id is refused with 402 `CUSTOMER_NOT_FOUND`, as a Drip id the API does not know is. A lookup
 * the API cannot answer is an outage (`onApiError`). A custom `check` receives the id the resolver
 * returned (the app's own), and is asked without a lookup.
 */

import { isDripError, isRecord } from '../errors';
import type { CustomerResolution } from '../outbox/customers';
import type { ClientLike } from '../outbox/types';
import type {
  Balance,
  EntitlementCheckParams,
  EntitlementCheckResult,
  SpendingCap,
  CallOptions,
} from '../types';
import type { GateDecision, GateOptions } from './options';
import type { MeterState } from './state';
import type { RequestView } from './types';

/** The client methods the gate calls (a `Drip` has them all). */
interface GateClient {
  checkEntitlement(params: EntitlementCheckParams): Promise<EntitlementCheckResult>;
  getBalance(customerId: string, options?: CallOptions): Promise<Balance>;
  getCustomerSpendingCaps(customerId: string, options?: CallOptions): Promise<{ caps: SpendingCap[] }>;
}

interface CacheEntry {
  until: number;
  decision: GateDecision;
}

const DEFAULT_TTL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 2_000;
const DEFAULT_FAILURE_TTL_MS = 5_000;
const MAX_CACHED = 10_000;

/** Micro-USDC of a decimal string (`"1.5"` → 1 500 000n); undefined when not a decimal. */
function micros(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) value = value.toFixed(6);
  if (typeof value !== 'string') return undefined;
  const m = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(value.trim());
  if (!m) return undefined;
  const v = BigInt(m[2] ?? '0') * 1_000_000n + BigInt((m[3] ?? '').padEnd(6, '0'));
  return m[1] === '-' ? -v : v;
}

/**
 * Whether an error says the API is unavailable (network failure, timeout, 429, 5xx) rather than that
 * this one call was wrong: only those open the failure window.
 */
function isOutage(err: unknown): boolean {
  return isDripError(err) && isOutageStatus(err.statusCode);
}

function isOutageStatus(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

/** What resolves the app's own ids: the meter's outbox (see the module comment). */
interface CustomerLookup {
  resolveCustomer(externalId: string, timeoutMs: number): Promise<CustomerResolution>;
}

const CUSTOMER_NOT_FOUND: GateDecision = Object.freeze({
  allow: false,
  status: 402,
  body: { error: 'Customer not found', code: 'CUSTOMER_NOT_FOUND' },
}) as GateDecision;

/** The gate of one request meter. */
export class Gate<Req> {
  readonly #decisions = new Map<string, CacheEntry>();
  /** Calls in flight per check key: concurrent requests of one customer share one call. */
  readonly #inFlight = new Map<string, Promise<GateDecision>>();
  readonly #options: GateOptions<Req>;
  readonly #state: MeterState<Req>;
  /** The client the gate calls and `gate.check` receives. */
  readonly #client: () => ClientLike;
  /** Until when (state clock, ms) the API is taken as down: checks answer `onApiError` without a call. */
  #outageUntil = 0;

  constructor(options: GateOptions<Req>, state: MeterState<Req>, client: () => ClientLike) {
    this.#options = options;
    this.#state = state;
    this.#client = client;
  }

  /**
   * Whether the request may go on. `external`: `customerId` is the app's own id, resolved to a Drip id
   * before the API's checks.
   */
  async decide(
    customerId: string,
    view: RequestView<Req>,
    meter: string,
    external = false,
  ): Promise<GateDecision> {
    const checks: Array<[string, () => Promise<GateDecision>]> = [];
    const g = this.#options;
    const appId = customerId;
    if (external && (g.entitlement || g.balance || g.spendingCap)) {
      const resolved = await this.#dripId(customerId);
      if (typeof resolved !== 'string') return resolved;
      customerId = resolved;
    }
    if (g.entitlement) {
      const feature =
        typeof g.entitlement === 'string'
          ? g.entitlement
          : typeof g.entitlement === 'function'
            ? g.entitlement(view.raw, view)
            : meter;
      checks.push([`e:${customerId}:${feature}`, () => this.#entitlement(customerId, feature)]);
    }
    if (g.balance) checks.push([`b:${customerId}`, () => this.#balance(customerId)]);
    if (g.spendingCap) checks.push([`c:${customerId}`, () => this.#caps(customerId)]);
    if (g.check) {
      const check = g.check;
      checks.push([
        '',
        async () => check({ customerId: appId, req: view.raw, view, client: this.#client() }),
      ]);
    }
    for (const [key, run] of checks) {
      const d = await this.#cached(key, run);
      if (!d.allow) return d;
    }
    return { allow: true };
  }

  /** The Drip id of the app's own id, or the decision when there is none (see the module comment). */
  async #dripId(externalId: string): Promise<string | GateDecision> {
    if (this.#state.now() < this.#outageUntil) return this.#unavailable();
    const outbox = this.#state.outbox as Partial<CustomerLookup>;
    let r: CustomerResolution;
    try {
      if (typeof outbox.resolveCustomer !== 'function') {
        throw new TypeError("the gate needs the meter's own outbox to look up external customer ids");
      }
      r = await outbox.resolveCustomer(externalId, this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    } catch (err) {
      this.#state.error(err, 'gate');
      return this.#unavailable();
    }
    if ('id' in r) return r.id;
    const { status, code, message } = r.refused;
    if (status === 404 && code === 'CUSTOMER_NOT_FOUND') return CUSTOMER_NOT_FOUND;
    this.#state.error(
      new Error(`customer lookup for "${externalId}" failed: ${message ?? code ?? `HTTP ${status}`}`),
      'gate',
    );
    if (isOutageStatus(status)) this.#outageUntil = this.#state.now() + this.#failureTtl();
    return this.#unavailable();
  }

  /** What a check answers when the API cannot: `onApiError` decides (fail-open by default). */
  #unavailable(): GateDecision {
    if ((this.#options.onApiError ?? 'allow') === 'allow') return { allow: true };
    return {
      allow: false,
      status: 503,
      body: { error: 'Billing service unavailable', code: 'BILLING_UNAVAILABLE' },
      headers: { 'retry-after': String(Math.ceil(this.#failureTtl() / 1000)) },
    };
  }

  #failureTtl(): number {
    const ms = this.#options.failureTtlMs;
    return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_FAILURE_TTL_MS;
  }

  async #cached(key: string, run: () => Promise<GateDecision>): Promise<GateDecision> {
    const now = this.#state.now();
    if (key) {
      const hit = this.#decisions.get(key);
      if (hit && hit.until > now) return hit.decision;
      // API checks only: a custom `check` is the app's own and is always asked.
      if (now < this.#outageUntil) return this.#unavailable();
      const pending = this.#inFlight.get(key);
      if (pending !== undefined) return pending;
    }
    const call = this.#call(key, run);
    if (key) {
      this.#inFlight.set(key, call);
      void call.finally(() => this.#inFlight.delete(key));
    }
    return call;
  }

  async #call(key: string, run: () => Promise<GateDecision>): Promise<GateDecision> {
    let decision: GateDecision;
    try {
      decision = await run();
    } catch (err) {
      this.#state.error(err, 'gate');
      if (key && isOutage(err)) this.#outageUntil = this.#state.now() + this.#failureTtl();
      return this.#unavailable();
    }
    if (key) {
      if (this.#decisions.size >= MAX_CACHED) {
        const first = this.#decisions.keys().next().value;
        if (first !== undefined) this.#decisions.delete(first);
      }
      this.#decisions.set(key, {
        until: this.#state.now() + (this.#options.ttlMs ?? DEFAULT_TTL_MS),
        decision,
      });
    }
    return decision;
  }

  /** One attempt, bounded by `timeoutMs`: the request waits on it. */
  #callOptions(): CallOptions {
    const timeoutMs = this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return { maxAttempts: 1, timeoutMs, deadlineMs: timeoutMs + 500 };
  }

  /** The client's own methods (validation, path encoding, key scopes); a client without them cannot gate. */
  #api(): GateClient {
    const client = this.#client() as Partial<GateClient>;
    if (
      typeof client.checkEntitlement !== 'function' ||
      typeof client.getBalance !== 'function' ||
      typeof client.getCustomerSpendingCaps !== 'function'
    ) {
      throw new TypeError(
        'the gate needs a Drip client (checkEntitlement, getBalance, getCustomerSpendingCaps)',
      );
    }
    return client as GateClient;
  }

  async #entitlement(customerId: string, featureKey: string): Promise<GateDecision> {
    let d: Partial<EntitlementCheckResult> & Record<string, unknown>;
    try {
      const result = await this.#api().checkEntitlement({
        customerId,
        featureKey,
        quantity: 1,
        ...this.#callOptions(),
      });
      d = isRecord(result) ? result : {};
    } catch (err) {
      // An unknown customer cannot be entitled; any other failure is the API's.
      if (isDripError(err) && err.statusCode === 404) return CUSTOMER_NOT_FOUND;
      throw err;
    }
    if (d.allowed !== false) return { allow: true };
    const reason = typeof d.reason === 'string' ? d.reason : 'LIMIT_REACHED';
    const paused = reason === 'CUSTOMER_PAUSED' || reason === 'SPENDING_CAP_REACHED';
    const headers: Record<string, string> = {};
    if (!paused && typeof d.periodResetsAt === 'string') {
      const secs = Math.ceil((Date.parse(d.periodResetsAt) - Date.now()) / 1000);
      if (Number.isFinite(secs) && secs > 0) headers['retry-after'] = String(secs);
    }
    return {
      allow: false,
      status: paused ? 402 : 429,
      body: {
        error: paused ? 'Payment required' : 'Usage limit reached',
        code: paused ? reason : 'ENTITLEMENT_LIMIT_REACHED',
        featureKey,
        reason,
        remaining: d.remaining,
        limit: d.limit,
        periodResetsAt: d.periodResetsAt,
      },
      headers,
    };
  }

  async #balance(customerId: string): Promise<GateDecision> {
    const data: unknown = await this.#api().getBalance(customerId, this.#callOptions());
    const d = isRecord(data) ? data : {};
    const available = micros(d.availableUsdc);
    const opt = this.#options.balance;
    const min = micros(typeof opt === 'object' && opt.minUsdc !== undefined ? opt.minUsdc : '0.000001') ?? 1n;
    if (available === undefined) throw new Error('balance response without availableUsdc');
    if (available >= min) return { allow: true };
    return {
      allow: false,
      status: 402,
      body: { error: 'Insufficient balance', code: 'PAYMENT_REQUIRED', availableUsdc: d.availableUsdc },
    };
  }

  async #caps(customerId: string): Promise<GateDecision> {
    const data: unknown = await this.#api().getCustomerSpendingCaps(customerId, this.#callOptions());
    const caps = isRecord(data) && Array.isArray(data.caps) ? (data.caps as unknown[]) : [];
    for (const c of caps) {
      if (!isRecord(c) || c.isActive === false || c.autoBlock === false) continue;
      const used = micros(c.currentUsage);
      const limit = micros(c.limitValue);
      if (used !== undefined && limit !== undefined && c.capType !== 'SINGLE_CHARGE_LIMIT' && used >= limit) {
        return {
          allow: false,
          status: 402,
          body: {
            error: 'Spending cap reached',
            code: 'SPENDING_CAP_REACHED',
            capType: c.capType,
            limitValue: c.limitValue,
          },
        };
      }
    }
    return { allow: true };
  }
}

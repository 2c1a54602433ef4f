/**
 * The one place where a finished model call becomes billing records: the `llm.call` run event, the usage
 * records (meters, keys, cost) and where they go (the request's run and customer, or the customer and run
 * named in the options). Every wrapper (AI SDK middleware, telemetry, OpenAI, Anthropic) calls it.
 *
 * Nothing here awaits the network on the model's path: records go into an outbox (`enqueue` is
 * synchronous) and errors are caught, counted and reported through `onError`.
 */

import {
  Drip,
  type ClientLike,
  type DripLogger,
  type DripRequestContext,
  type Outbox,
  createOutbox,
  generateIdempotencyKey,
  getDripContext,
  MODEL_CALL_RUN_SLOT,
  type ModelCallKeyScope,
  modelCallKey,
} from '@drip/core';
import { nextPosition } from './keys';
import type { TokenUsage } from './usage';

/**
 * A token kind that can be billed on its own meter. `input` and `output` are totals (`cachedInput` and
 * `cacheWrite` are parts of `input`, `reasoning` a part of `output`); `total` is `input + output`.
 *
 * @example
 * ```ts
 * const kind: TokenKind = 'cachedInput';
 * ```
 */
export type TokenKind = 'total' | 'input' | 'output' | 'cachedInput' | 'cacheWrite' | 'reasoning';

/**
 * Prices of one model in US dollars per million tokens. Cached and cache-write input default to the
 * input price.
 *
 * @example
 * ```ts
 * const price: ModelPrice = { input: 0.15, output: 0.6, cachedInput: 0.075 };
 * ```
 */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput?: number | undefined;
  cacheWrite?: number | undefined;
}

/**
 * Per-call settings, passed as `providerOptions: { drip: { ... } }` (AI SDK) or as the second argument's
 * `drip` field (OpenAI, Anthropic). They take the place of the wrapper's options for that call.
 *
 * @example
 * ```ts
 * await generateText({ model, prompt, providerOptions: { drip: { customerId: 'cus_42', run: 'job-7' } } });
 * ```
 */
export interface DripCallOptions {
  /** Drip customer id that pays for this call (outside a request). */
  customerId?: string | undefined;
  /** Your own customer id (outside a request); the Drip customer is found or created in the background. */
  externalCustomerId?: string | undefined;
  /** Groups calls made outside a request (a job, a conversation); keys count call positions within it. */
  run?: string | undefined;
  /** A key of your own for this one call: a retry with the same key is billed once. */
  key?: string | undefined;
  /** `false` records nothing for this call. */
  meter?: false | undefined;
}

/**
 * Options shared by every `@drip/ai` wrapper.
 *
 * @example
 * ```ts
 * const options: DripAiOptions = {
 *   meters: { input: 'llm_input_tokens', output: 'llm_output_tokens' },
 *   prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
 * };
 * ```
 */
export interface DripAiOptions extends Omit<DripCallOptions, 'key' | 'meter'> {
  /**
   * The request context to use when no async context is available (runtimes without
   * `AsyncLocalStorage`): the adapter's `req.drip`, or a function returning it. By default the context
   * of the request being handled (`getDripContext()`).
   */
  context?: DripRequestContext | (() => DripRequestContext | undefined) | undefined;
  /** The meter of `input + output` tokens (default `llm_tokens`); ignored when `meters` is set. */
  meter?: string | undefined;
  /** One meter per token kind, instead of `meter`. Kinds not listed are not billed. */
  meters?: Partial<Record<TokenKind, string>> | undefined;
  /**
   * Prices per model (US dollars per million tokens), matched on the model id the provider answered
   * with, then the one requested. When given, every record carries its cost; a model missing from the
   * table is recorded with `priced: false`, never at a price of zero.
   */
  prices?: Record<string, ModelPrice> | undefined;
  /** Workflow slug of the runs recorded for calls made outside a request (default `llm`). */
  workflow?: string | undefined;
  /**
   * Where records go. Pass your adapter's outbox (`dripMiddleware().meter.outbox`) to share one queue;
   * by default one is created on first use with `client`, or a `Drip` client from `apiKey`/`baseUrl`
   * (`DRIP_API_KEY`).
   */
  outbox?: Outbox | undefined;
  /** The Drip client for the default outbox and for finding customers by `externalCustomerId`. */
  client?: ClientLike | undefined;
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  logger?: DripLogger | undefined;
  /** Called with each metering error (never thrown into the model call). */
  onError?: ((error: unknown, info: { phase: 'record' | 'customer' }) => void) | undefined;
}

/** A finished model call as a wrapper observed it. */
export interface ModelCall {
  model: string;
  /** The model id the call asked for, when it differs from the one the provider answered with. */
  requestedModel?: string | undefined;
  provider: string;
  usage: TokenUsage;
  estimated: boolean;
  latencyMs: number;
  timeToFirstTokenMs?: number | undefined;
  finishReason?: string | undefined;
  aborted?: boolean | undefined;
}

/** A finished tool execution as the telemetry integration observed it. */
export interface ToolCall {
  name: string;
  durationMs: number;
  success: boolean;
}

/** What a call captured when it started: where it bills, read in the caller's async context. */
export interface CallScope {
  context: DripRequestContext | undefined;
  call: DripCallOptions | undefined;
  startedAt: number;
  /** A position in the named run taken at the start (tool executions), else taken when recorded. */
  position?: number | undefined;
}

const MAX_PENDING = 1_000;
const MILLION = 1_000_000;

function round6(n: number): number {
  return Math.round(n * MILLION) / MILLION;
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Whether per-call options name who pays (then a call inside a request bills them, not the request's customer). */
function namesCustomer(c: DripCallOptions | undefined): boolean {
  return nonEmpty(c?.customerId) || nonEmpty(c?.externalCustomerId);
}

/** Reads the `drip` entry of AI SDK provider options (or of an OpenAI/Anthropic request's options). */
export function callOptionsOf(providerOptions: unknown): DripCallOptions | undefined {
  if (providerOptions === null || typeof providerOptions !== 'object') return undefined;
  const drip = (providerOptions as { drip?: unknown }).drip;
  return drip !== null && typeof drip === 'object' ? (drip as DripCallOptions) : undefined;
}

/**
 * Records finished model calls (see the file comment). One per wrapper; wrappers made from the same
 * options share nothing but the outbox they are given.
 */
export class Recorder {
  readonly #o: DripAiOptions;
  #outbox: Outbox | undefined;
  #client: ClientLike | undefined;
  /** Drip ids of external customer ids, and records waiting for one. */
  readonly #customers = new Map<string, string>();
  readonly #waiting = new Map<string, Array<(customerId: string) => void>>();
  #waitingCount = 0;
  #resolving = new Set<string>();
  readonly #warned = new Set<string>();
  errors = 0;

  constructor(options: DripAiOptions = {}) {
    this.#o = options;
    this.#outbox = options.outbox;
  }

  /** The outbox records go to (created on first use). */
  get outbox(): Outbox {
    if (this.#outbox === undefined) {
      const o = this.#o;
      this.#outbox = createOutbox({
        logger: o.logger,
        ...(o.client ? { client: o.client } : { clientFactory: () => this.#drip() }),
      });
    }
    return this.#outbox;
  }

  #drip(): ClientLike {
    this.#client ??= this.#o.client ?? new Drip({ apiKey: this.#o.apiKey, baseUrl: this.#o.baseUrl });
    return this.#client;
  }

  /** Captures where a call bills; call it synchronously when the call starts. */
  begin(providerOptions: unknown, now: number): CallScope {
    let context: DripRequestContext | undefined;
    try {
      const c = this.#o.context;
      context = typeof c === 'function' ? c() : (c ?? getDripContext());
    } catch (err) {
      this.error(err, 'record');
    }
    return { context, call: callOptionsOf(providerOptions), startedAt: now };
  }

  /** Records one finished call. Never throws. */
  record(scope: CallScope, call: ModelCall): void {
    try {
      this.#record(scope, call);
    } catch (err) {
      this.error(err, 'record');
    }
  }

  #record(scope: CallScope, call: ModelCall): void {
    const c = scope.call;
    if (c?.meter === false) return;
    const event = this.#event(call);
    const ctx = scope.context;
    if (ctx !== undefined && !namesCustomer(c)) {
      const position = nextPosition(ctx);
      const keyScope: ModelCallKeyScope = nonEmpty(c?.key)
        ? { kind: 'key', key: c.key }
        : { kind: 'request', requestId: ctx.requestId };
      ctx.run.event({ ...event, callIndex: position });
      this.#usage(ctx.customerId, keyScope, keyScope.kind === 'key' ? 0 : position, call, event);
      return;
    }
    this.#outside(scope, 'model call', {
      event,
      status: call.aborted ? 'CANCELLED' : 'COMPLETED',
      endedAt: scope.startedAt + call.latencyMs,
      key: c?.key,
      usage: (id, keyScope, position) => this.#usage(id, keyScope, position, call, event),
    });
  }

  /**
   * Records one finished tool execution, a `tool.call` event (`name`, `duration` in ms, `success`): on
   * the request's run, or outside a request as a run of its own for the customer the options name,
   * keyed like a model call's run record (position in the named run, taken when the tool started).
   * Never throws.
   */
  recordTool(scope: CallScope, tool: ToolCall): void {
    try {
      const c = scope.call;
      if (c?.meter === false) return;
      const event = {
        eventType: 'tool.call',
        name: tool.name,
        duration: Math.max(0, Math.round(tool.durationMs)),
        success: tool.success,
      };
      if (scope.context !== undefined && !namesCustomer(c)) {
        scope.context.run.event(event);
        return;
      }
      // A per-call `key` names the model call; a tool of that call must not take the same key.
      this.#outside(scope, 'tool call', {
        event,
        status: 'COMPLETED',
        endedAt: scope.startedAt + tool.durationMs,
      });
    } catch (err) {
      this.error(err, 'record');
    }
  }

  /**
   * The position a tool execution takes in the run named for calls outside a request, taken when it
   * starts: tools start in the order the model asked for them, so a retried job numbers them the same
   * even when they finish in another order. Undefined inside a request or without a named run.
   */
  toolPosition(scope: CallScope): number | undefined {
    const c = scope.call;
    if (c?.meter === false || (scope.context !== undefined && !namesCustomer(c))) return undefined;
    const run = c?.run ?? this.#o.run;
    return nonEmpty(run) ? nextPosition(run) : undefined;
  }

  /**
   * A call made outside a request (or naming its own customer): one run record of its own for the
   * customer named in the call or wrapper options, in the named run if any, then its usage.
   */
  #outside(
    scope: CallScope,
    what: string,
    r: {
      event: Record<string, unknown> & { eventType: string };
      status: 'COMPLETED' | 'CANCELLED';
      endedAt: number;
      key?: string | undefined;
      usage?: (customerId: string, keyScope: ModelCallKeyScope, position: number) => void;
    },
  ): void {
    const o = this.#o;
    const c = scope.call;
    const customerId = c?.customerId ?? (nonEmpty(c?.externalCustomerId) ? undefined : o.customerId);
    const external = c?.externalCustomerId ?? (customerId === undefined ? o.externalCustomerId : undefined);
    if (!nonEmpty(customerId) && !nonEmpty(external)) {
      this.#warnOnce(
        `no-customer:${what}`,
        `drip: a ${what} outside a metered request named no customer; it was not recorded (set customerId or externalCustomerId)`,
      );
      this.error(new Error(`${what} outside a request without a customer`), 'record');
      return;
    }
    const run = c?.run ?? o.run;
    let keyScope: ModelCallKeyScope;
    let position = 0;
    if (nonEmpty(r.key)) keyScope = { kind: 'key', key: r.key };
    else if (nonEmpty(run)) {
      position = scope.position ?? nextPosition(run);
      keyScope = { kind: 'run', runId: run };
    } else {
      // Without a request, a run or a key there is nothing to make the key deterministic from: one key
      // per call, fixed now, still reused by every delivery attempt.
      keyScope = { kind: 'key', key: generateIdempotencyKey('ai') };
    }
    const send = (id: string): void => {
      const runKey = modelCallKey(keyScope, id, position, MODEL_CALL_RUN_SLOT);
      this.outbox.enqueue({
        type: 'run',
        customerId: id,
        workflow: o.workflow ?? 'llm',
        status: r.status,
        events: [{ ...r.event, callIndex: position }],
        externalRunId: runKey,
        idempotencyKey: runKey,
        correlationId: nonEmpty(run) ? run : undefined,
        startedAt: new Date(scope.startedAt).toISOString(),
        endedAt: new Date(r.endedAt).toISOString(),
      });
      r.usage?.(id, keyScope, position);
    };
    if (nonEmpty(customerId)) send(customerId);
    else this.#withCustomer(external as string, send);
  }

  /** The `llm.call` run event of a call (spec §2.4.1 conventions). */
  #event(call: ModelCall): Record<string, unknown> & { eventType: string } {
    const u = call.usage;
    const event: Record<string, unknown> & { eventType: string } = {
      eventType: 'llm.call',
      model: call.model,
      provider: call.provider,
      inputTokens: u.inputTokens ?? 0,
      outputTokens: u.outputTokens ?? 0,
      cachedInputTokens: u.cachedInputTokens ?? 0,
      cacheWriteTokens: u.cacheWriteTokens ?? 0,
      reasoningTokens: u.reasoningTokens ?? 0,
      latencyMs: Math.max(0, Math.round(call.latencyMs)),
    };
    if (call.timeToFirstTokenMs !== undefined) event.timeToFirstTokenMs = Math.round(call.timeToFirstTokenMs);
    if (call.finishReason !== undefined) event.finishReason = call.finishReason;
    if (call.estimated) event.estimated = true;
    if (call.aborted) event.aborted = true;
    const cost = this.#cost(call);
    if (cost !== undefined) {
      if (cost === null) event.priced = false;
      else event.costUnits = cost;
    }
    return event;
  }

  /** Cost in US dollars; `null` when a price table is set but lacks the model; `undefined` without a table. */
  #cost(call: ModelCall): number | null | undefined {
    const prices = this.#o.prices;
    if (prices === undefined) return undefined;
    const own = Object.hasOwn(prices, call.model) ? prices[call.model] : undefined;
    const p =
      own ??
      (call.requestedModel !== undefined && Object.hasOwn(prices, call.requestedModel)
        ? prices[call.requestedModel]
        : undefined);
    if (p === undefined || !Number.isFinite(p.input) || !Number.isFinite(p.output)) return null;
    const u = call.usage;
    const cached = u.cachedInputTokens ?? 0;
    const written = u.cacheWriteTokens ?? 0;
    const plain = Math.max(0, (u.inputTokens ?? 0) - cached - written);
    const dollars =
      plain * p.input +
      cached * (p.cachedInput ?? p.input) +
      written * (p.cacheWrite ?? p.input) +
      (u.outputTokens ?? 0) * p.output;
    return round6(dollars / MILLION);
  }

  /** One usage record per billed meter, keyed by the call's identity. */
  #usage(
    customerId: string,
    keyScope: ModelCallKeyScope,
    position: number,
    call: ModelCall,
    event: Record<string, unknown>,
  ): void {
    const o = this.#o;
    const u = call.usage;
    const quantities: Array<[string, number]> = [];
    if (o.meters) {
      const byKind: Record<TokenKind, number> = {
        total: (u.inputTokens ?? 0) + (u.outputTokens ?? 0),
        input: u.inputTokens ?? 0,
        output: u.outputTokens ?? 0,
        cachedInput: u.cachedInputTokens ?? 0,
        cacheWrite: u.cacheWriteTokens ?? 0,
        reasoning: u.reasoningTokens ?? 0,
      };
      for (const [kind, meter] of Object.entries(o.meters) as Array<[TokenKind, string | undefined]>) {
        if (nonEmpty(meter) && byKind[kind] !== undefined) quantities.push([meter, byKind[kind]]);
      }
    } else {
      quantities.push([o.meter ?? 'llm_tokens', (u.inputTokens ?? 0) + (u.outputTokens ?? 0)]);
    }
    // Deterministic metadata only: a retried request resends the same body, which the API deduplicates.
    const metadata: Record<string, unknown> = { model: call.model, provider: call.provider };
    if (call.estimated) metadata.estimated = true;
    if (event.costUnits !== undefined) metadata.costUsd = event.costUnits;
    if (event.priced === false) metadata.priced = false;
    for (const [meter, quantity] of quantities) {
      if (quantity <= 0) continue;
      this.outbox.enqueue({
        type: 'usage',
        customerId,
        meter,
        quantity,
        idempotencyKey: modelCallKey(keyScope, customerId, position, meter),
        metadata,
      });
    }
  }

  /** Runs `send` with the Drip id of an external customer, finding or creating it in the background. */
  #withCustomer(external: string, send: (customerId: string) => void): void {
    const known = this.#customers.get(external);
    if (known !== undefined) {
      send(known);
      return;
    }
    if (this.#waitingCount >= MAX_PENDING) {
      this.error(
        new Error(`more than ${MAX_PENDING} calls waiting for customers; call not metered`),
        'customer',
      );
      return;
    }
    let list = this.#waiting.get(external);
    if (list === undefined) {
      list = [];
      this.#waiting.set(external, list);
    }
    list.push(send);
    this.#waitingCount++;
    this.#resolve(external);
  }

  #resolve(external: string): void {
    if (this.#resolving.has(external)) return;
    this.#resolving.add(external);
    const client = this.#drip() as ClientLike & {
      getOrCreateCustomer?: (id: string) => Promise<{ id: string }>;
    };
    const lookup =
      typeof client.getOrCreateCustomer === 'function'
        ? client.getOrCreateCustomer(external)
        : Promise.reject(new Error('externalCustomerId needs a Drip client'));
    lookup.then(
      (customer) => {
        this.#resolving.delete(external);
        this.#customers.set(external, customer.id);
        const list = this.#waiting.get(external) ?? [];
        this.#waiting.delete(external);
        this.#waitingCount -= list.length;
        for (const send of list) {
          try {
            send(customer.id);
          } catch (err) {
            this.error(err, 'record');
          }
        }
      },
      (err: unknown) => {
        // Kept waiting: the next call for this customer, or flush(), tries again.
        this.#resolving.delete(external);
        this.error(err, 'customer');
      },
    );
  }

  /** Delivers what is queued (and retries customer look-ups that failed). */
  async flush(timeoutMs?: number): Promise<{ delivered: boolean; remaining: number }> {
    for (const external of this.#waiting.keys()) this.#resolve(external);
    if (this.#outbox === undefined && this.#waitingCount === 0) return { delivered: true, remaining: 0 };
    const r = await this.outbox.flush(timeoutMs);
    return {
      delivered: r.delivered && this.#waitingCount === 0,
      remaining: r.remaining + this.#waitingCount,
    };
  }

  error(err: unknown, phase: 'record' | 'customer'): void {
    this.errors++;
    const message = err instanceof Error ? err.message : String(err);
    this.#warnOnce(
      `error:${phase}`,
      `drip: token metering error (${phase}): ${message}; the model call is not affected`,
    );
    const onError = this.#o.onError;
    if (onError) {
      try {
        onError(err, { phase });
      } catch {
        // A failing error hook must not reach the model call either.
      }
    }
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    try {
      const logger = this.#o.logger ?? (globalThis as { console?: DripLogger }).console;
      logger?.warn?.(message);
    } catch {
      // ignore
    }
  }
}

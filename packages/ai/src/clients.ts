/**
 * Metering of the official provider clients (`openai`, `@anthropic-ai/sdk`) without touching them: a
 * proxy that replaces only the `create` methods it meters, observes the returned promise (the SDK's own
 * `APIPromise` is returned as it is, so `.withResponse()` keeps working) and, for streams, the stream's
 * iterator, which every way of reading it (`for await`, `tee()`, `toReadableStream()`) goes through.
 */

import { type DripAiOptions, type DripCallOptions, type ModelCall, Recorder } from './recorder';
import { type TokenUsage, estimateTokens, promptChars } from './usage';

type Bag = Record<string, unknown>;

export function bag(value: unknown): Bag {
  return value !== null && typeof value === 'object' ? (value as Bag) : {};
}

/** What a provider module knows about its responses and stream events. */
export interface ProviderReader {
  provider: string;
  /** Usage, model and finish reason of a complete (non-streamed) response. */
  response(body: unknown): {
    usage: TokenUsage;
    model?: string | undefined;
    finishReason?: string | undefined;
  };
  /** Folds one stream event into the state; returns the number of output characters it carried. */
  event(state: StreamState, event: unknown): void;
}

/** What a stream told so far. */
export interface StreamState {
  chars: number;
  firstAt: number | undefined;
  model: string | undefined;
  usage: TokenUsage;
  /** Whether the provider reported the final counts (so nothing needs estimating). */
  complete: boolean;
  finishReason: string | undefined;
}

const now = (): number => Date.now();

/** Characters of a streamed text field (0 when absent). */
export function text(value: unknown): number {
  return typeof value === 'string' ? value.length : 0;
}

/** Wraps one `create(body, options)` method. */
function meterCreate(
  target: object,
  create: (body: unknown, options?: unknown) => unknown,
  reader: ProviderReader,
  recorder: Recorder,
): (body: unknown, options?: unknown) => unknown {
  return function meteredCreate(body: unknown, requestOptions?: unknown) {
    const drip = bag(requestOptions).drip as DripCallOptions | undefined;
    let options = requestOptions;
    if (drip !== undefined) {
      // The SDK must not see our per-call options.
      const { drip: _drip, ...rest } = bag(requestOptions);
      options = rest;
    }
    const scope = recorder.begin(drip === undefined ? undefined : { drip }, now());
    const result = create.call(target, body, options);
    try {
      const requested = bag(body).model;
      const requestedModel = typeof requested === 'string' ? requested : 'unknown';
      const streamed = bag(body).stream === true;
      (result as PromiseLike<unknown>).then(
        (value) => {
          try {
            if (streamed) meterStream(value, body, requestedModel, reader, recorder, scope);
            else {
              const r = reader.response(value);
              const call: ModelCall = {
                model: r.model ?? requestedModel,
                requestedModel,
                provider: reader.provider,
                usage: r.usage,
                estimated: false,
                latencyMs: now() - scope.startedAt,
                finishReason: r.finishReason,
              };
              recorder.record(scope, withEstimates(call, body, 0));
            }
          } catch (err) {
            recorder.error(err, 'record');
          }
        },
        // A failed call bills nothing here; the caller gets the SDK's error from its own promise.
        () => undefined,
      );
    } catch (err) {
      recorder.error(err, 'record');
    }
    return result;
  };
}

/** Fills unknown input/output counts with estimates (marked). */
function withEstimates(call: ModelCall, body: unknown, outputChars: number): ModelCall {
  const u = { ...call.usage };
  let estimated = call.estimated;
  if (u.inputTokens === undefined) {
    const b = bag(body);
    u.inputTokens = estimateTokens(
      promptChars({ messages: b.messages, input: b.input, system: b.system, instructions: b.instructions }),
    );
    estimated = true;
  }
  if (u.outputTokens === undefined) {
    u.outputTokens = estimateTokens(outputChars);
    estimated = true;
  }
  return { ...call, usage: u, estimated };
}

function meterStream(
  stream: unknown,
  body: unknown,
  requestedModel: string,
  reader: ProviderReader,
  recorder: Recorder,
  scope: ReturnType<Recorder['begin']>,
): void {
  const s = stream as { iterator?: () => AsyncIterator<unknown> };
  const iterator = s.iterator;
  if (typeof iterator !== 'function') return;
  const state: StreamState = {
    chars: 0,
    firstAt: undefined,
    model: undefined,
    usage: {},
    complete: false,
    finishReason: undefined,
  };
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    const aborted = !state.complete;
    const usage = aborted ? { ...state.usage, outputTokens: undefined } : state.usage;
    const call: ModelCall = {
      model: state.model ?? requestedModel,
      requestedModel,
      provider: reader.provider,
      usage,
      estimated: false,
      latencyMs: now() - scope.startedAt,
      timeToFirstTokenMs: state.firstAt === undefined ? undefined : state.firstAt - scope.startedAt,
      finishReason: state.finishReason ?? (aborted ? 'aborted' : undefined),
      aborted: aborted ? true : undefined,
    };
    recorder.record(scope, withEstimates(call, body, state.chars));
  };
  s.iterator = function meteredIterator(this: unknown) {
    const inner = iterator.call(this);
    return (async function* observe() {
      try {
        while (true) {
          const next = await inner.next();
          if (next.done) break;
          try {
            reader.event(state, next.value);
            if (state.firstAt === undefined && state.chars > 0) state.firstAt = now();
          } catch (err) {
            recorder.error(err, 'record');
          }
          yield next.value;
        }
      } finally {
        // Ends normally, on an error (the connection cut), or when the reader stops early (`break`).
        finish();
        await inner.return?.();
      }
    })();
  };
}

/**
 * A proxy of `client` where the methods at `paths` (e.g. `chat.completions.create`) are metered. The
 * client itself is not modified; everything else is the client's own.
 */
export function meterClient<C extends object>(
  client: C,
  paths: string[],
  reader: ProviderReader,
  options: DripAiOptions,
): C {
  const recorder = new Recorder(options);
  const build = (prefix: string[], target: object): object => {
    const here = paths.filter((p) => p.startsWith(prefix.length ? `${prefix.join('.')}.` : ''));
    const cache = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver);
        if (typeof prop !== 'string') return value;
        const path = [...prefix, prop].join('.');
        if (cache.has(prop)) return cache.get(prop);
        let out: unknown = value;
        if (here.includes(path) && typeof value === 'function') {
          out = meterCreate(t, value as (b: unknown, o?: unknown) => unknown, reader, recorder);
        } else if (
          value !== null &&
          typeof value === 'object' &&
          here.some((p) => p.startsWith(`${path}.`))
        ) {
          out = build([...prefix, prop], value);
        } else return value;
        cache.set(prop, out);
        return out;
      },
    });
  };
  return build([], client) as C;
}

/**
 * The AI SDK language-model middleware (AI SDK 5, 6 and 7: LanguageModel V2, V3 and V4). It only observes:
 * the model's result and stream parts pass through unchanged, and metering runs after the call returned
 * (or while the stream is read) without awaiting anything.
 */

import { type DripAiOptions, type ModelCall, Recorder } from './recorder';
import { type TokenUsage, estimateTokens, normalizeModelUsage, promptChars } from './usage';

/** What the middleware reads of a model (every V2, V3 and V4 model has these). */
export interface MeteredModelInfo {
  readonly provider: string;
  readonly modelId: string;
}

/** What the middleware reads of a call's parameters. */
export interface MeteredCallParams {
  providerOptions?: unknown;
  prompt?: unknown;
  abortSignal?: AbortSignal | undefined;
}

/**
 * The middleware returned by {@link dripLanguageModelMiddleware}. Its shape fits `wrapLanguageModel` of
 * AI SDK 5 (`LanguageModelV2Middleware`), 6 (`V3`) and 7 (`V4`): the methods are generic over the
 * model's result types, which pass through unchanged. `flush()` delivers what is queued.
 *
 * @example
 * ```ts
 * const middleware: DripLanguageModelMiddleware = dripLanguageModelMiddleware();
 * await middleware.flush(5_000);
 * ```
 */
export interface DripLanguageModelMiddleware {
  /**
   * Each AI SDK major checks its own literal (`'v3'`, `'v4'`; AI SDK 5 has none). One object serves all
   * three, so the type is the one that fits each: `never`, assignable to every literal.
   */
  readonly specificationVersion: never;
  wrapGenerate<R>(options: {
    doGenerate: () => PromiseLike<R>;
    params: MeteredCallParams;
    model: MeteredModelInfo;
  }): Promise<R>;
  wrapStream<S extends { stream: ReadableStream<unknown> }>(options: {
    doStream: () => PromiseLike<S>;
    params: MeteredCallParams;
    model: MeteredModelInfo;
  }): Promise<S>;
  /** Delivers the queued records (e.g. before a serverless function returns, or at shutdown). */
  flush(timeoutMs?: number): Promise<{ delivered: boolean; remaining: number }>;
}

type Bag = Record<string, unknown>;

function bag(value: unknown): Bag {
  return value !== null && typeof value === 'object' ? (value as Bag) : {};
}

function finishReasonOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const unified = bag(value).unified;
  return typeof unified === 'string' ? unified : undefined;
}

/** Characters of text in a generate result's content (V2-V4 `content` parts). */
function contentChars(content: unknown): number {
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    const p = bag(part);
    if (typeof p.text === 'string') n += p.text.length;
    else if (typeof p.input === 'string') n += p.input.length;
  }
  return n;
}

/** Fills unknown input/output counts with estimates; says whether it had to. */
function completeUsage(
  usage: TokenUsage,
  params: MeteredCallParams,
  outputChars: number,
): { usage: TokenUsage; estimated: boolean } {
  let estimated = false;
  const u = { ...usage };
  if (u.inputTokens === undefined) {
    u.inputTokens = estimateTokens(promptChars(params.prompt));
    estimated = true;
  }
  if (u.outputTokens === undefined) {
    u.outputTokens = estimateTokens(outputChars);
    estimated = true;
  }
  return { usage: u, estimated };
}

const now: () => number =
  typeof performance !== 'undefined' && typeof performance.now === 'function'
    ? () => performance.timeOrigin + performance.now()
    : Date.now;

/**
 * A language-model middleware that records every model call: an `llm.call` event on the request's run
 * and its tokens as usage of the request's customer (or of the customer in the options, outside a
 * request). Works with `wrapLanguageModel` of AI SDK 5, 6 and 7. Streams are metered as they are read;
 * a stream that is aborted or cancelled before its `finish` part is billed with input tokens estimated
 * from the prompt and output tokens counted from the streamed deltas, marked `estimated: true`. Every
 * step of a multi-step tool loop is a model call of its own, so each is billed.
 *
 * @example
 * ```ts
 * import { openai } from '@ai-sdk/openai';
 * import { generateText, wrapLanguageModel } from 'ai';
 * import { dripLanguageModelMiddleware } from '@drip/ai';
 *
 * const model = wrapLanguageModel({ model: openai('gpt-4o-mini'), middleware: dripLanguageModelMiddleware() });
 * const { text } = await generateText({ model, prompt: 'Hello' });
 * ```
 */
export function dripLanguageModelMiddleware(options: DripAiOptions = {}): DripLanguageModelMiddleware {
  const recorder = new Recorder(options);
  return createMiddleware(recorder);
}

/** The middleware over a recorder (shared with {@link meterModel}). */
export function createMiddleware(recorder: Recorder): DripLanguageModelMiddleware {
  const middleware = {
    specificationVersion: 'v4',
    async wrapGenerate<R>(o: {
      doGenerate: () => PromiseLike<R>;
      params: MeteredCallParams;
      model: MeteredModelInfo;
    }): Promise<R> {
      const scope = recorder.begin(o.params?.providerOptions, now());
      const result = await o.doGenerate();
      try {
        const r = bag(result);
        const response = bag(r.response);
        const reported = normalizeModelUsage(r.usage, r.providerMetadata);
        const { usage, estimated } = completeUsage(reported, o.params ?? {}, contentChars(r.content));
        const model = typeof response.modelId === 'string' ? response.modelId : o.model.modelId;
        recorder.record(scope, {
          model,
          requestedModel: o.model.modelId,
          provider: o.model.provider,
          usage,
          estimated,
          latencyMs: now() - scope.startedAt,
          finishReason: finishReasonOf(r.finishReason),
        });
      } catch (err) {
        recorder.error(err, 'record');
      }
      return result;
    },
    async wrapStream<S extends { stream: ReadableStream<unknown> }>(o: {
      doStream: () => PromiseLike<S>;
      params: MeteredCallParams;
      model: MeteredModelInfo;
    }): Promise<S> {
      const scope = recorder.begin(o.params?.providerOptions, now());
      const result = await o.doStream();
      let source: ReadableStream<unknown>;
      try {
        source = result.stream;
        if (typeof source?.getReader !== 'function') return result;
      } catch {
        return result;
      }
      const params = o.params ?? {};
      let chars = 0;
      let firstAt: number | undefined;
      let modelId: string | undefined;
      let reported: TokenUsage | undefined;
      let finishReason: string | undefined;
      let done = false;
      const signal = params.abortSignal;
      const finish = (aborted: boolean): void => {
        if (done) return;
        done = true;
        signal?.removeEventListener?.('abort', onAbort);
        const base = reported ?? {};
        // Without a `finish` part the provider never said how many tokens it used: estimate.
        const { usage, estimated } = reported
          ? completeUsage(base, params, chars)
          : completeUsage({ ...base, inputTokens: undefined, outputTokens: undefined }, params, chars);
        const call: ModelCall = {
          model: modelId ?? o.model.modelId,
          requestedModel: o.model.modelId,
          provider: o.model.provider,
          usage,
          estimated,
          latencyMs: now() - scope.startedAt,
          timeToFirstTokenMs: firstAt === undefined ? undefined : firstAt - scope.startedAt,
          finishReason: finishReason ?? (aborted ? 'aborted' : undefined),
          aborted: aborted && reported === undefined ? true : undefined,
        };
        recorder.record(scope, call);
      };
      const onAbort = (): void => finish(true);
      try {
        if (signal?.aborted) finish(true);
        else signal?.addEventListener?.('abort', onAbort, { once: true });
      } catch {
        // An unusual signal object: cancellation still ends the stream below.
      }
      const observe = (part: unknown): void => {
        const p = bag(part);
        const type = p.type;
        if (type === 'text-delta' || type === 'reasoning-delta' || type === 'tool-input-delta') {
          const delta =
            typeof p.delta === 'string' ? p.delta : typeof p.textDelta === 'string' ? p.textDelta : '';
          chars += delta.length;
          firstAt ??= now();
        } else if (type === 'tool-call') {
          if (typeof p.input === 'string') chars += p.input.length;
          firstAt ??= now();
        } else if (type === 'response-metadata') {
          if (typeof p.modelId === 'string') modelId = p.modelId;
        } else if (type === 'finish') {
          reported = normalizeModelUsage(p.usage, p.providerMetadata);
          finishReason = finishReasonOf(p.finishReason);
          finish(false);
        }
      };
      const reader = source.getReader();
      const stream = new ReadableStream<unknown>(
        {
          async pull(controller) {
            let next: ReadableStreamReadResult<unknown>;
            try {
              next = await reader.read();
            } catch (err) {
              finish(true);
              controller.error(err);
              return;
            }
            if (next.done) {
              finish(reported === undefined);
              controller.close();
              return;
            }
            try {
              observe(next.value);
            } catch (err) {
              recorder.error(err, 'record');
            }
            controller.enqueue(next.value);
          },
          cancel(reason) {
            finish(true);
            return reader.cancel(reason);
          },
        },
        { highWaterMark: 0 },
      );
      return { ...result, stream } as S;
    },
    flush(timeoutMs?: number) {
      return recorder.flush(timeoutMs);
    },
  };
  return middleware as unknown as DripLanguageModelMiddleware;
}

/** What {@link meterModel} needs of a model: any AI SDK 5, 6 or 7 language model object. */
export interface MeterableModel extends MeteredModelInfo {
  readonly specificationVersion: string;
  doGenerate(options: never): PromiseLike<unknown>;
  doStream(options: never): PromiseLike<{ stream: ReadableStream<unknown> }>;
}

/**
 * A model with every call metered by {@link dripLanguageModelMiddleware}: the same model (same
 * specification version, provider, model id and supported URLs), so it goes wherever the original went
 * (`generateText`, `streamText`, agents) in AI SDK 5, 6 and 7. Pass model objects; a gateway model id
 * string is resolved by the AI SDK, so wrap it with `wrapLanguageModel` and the middleware instead.
 *
 * @example
 * ```ts
 * import { openai } from '@ai-sdk/openai';
 * import { generateText } from 'ai';
 * import { meterModel } from '@drip/ai';
 *
 * const model = meterModel(openai('gpt-4o-mini'));
 * await generateText({ model, prompt: 'Hello' });
 * ```
 */
export function meterModel<M extends MeterableModel>(model: M, options: DripAiOptions = {}): M {
  const middleware = createMiddleware(new Recorder(options));
  type Params = MeteredCallParams & Parameters<M['doGenerate']>[0];
  const wrapped = {
    specificationVersion: model.specificationVersion,
    provider: model.provider,
    modelId: model.modelId,
    get supportedUrls() {
      return (model as { supportedUrls?: unknown }).supportedUrls;
    },
    doGenerate(params: Params) {
      return middleware.wrapGenerate({ doGenerate: () => model.doGenerate(params), params, model });
    },
    doStream(params: Params) {
      return middleware.wrapStream({ doStream: () => model.doStream(params), params, model });
    },
  };
  return wrapped as unknown as M;
}

/**
 * An AI SDK 7 telemetry integration (`registerTelemetry(dripTelemetry())`, or per call in
 * `telemetry: { integrations: [...] }`). It records model calls like the middleware does, from the SDK's
 * own lifecycle events, and tool executions as `tool.call` events with name and duration.
 */

import { type DripAiOptions, Recorder, type CallScope } from './recorder';
import { normalizeModelUsage } from './usage';

/** The fields of AI SDK 7's operation start events (`GenerateTextStartEvent`, ...) this integration reads. */
export interface TelemetryOperationStart {
  readonly callId: string;
  readonly providerOptions?: unknown;
}

/** The fields of AI SDK 7's `LanguageModelCallStartEvent` this integration reads. */
export interface TelemetryModelCallStart {
  readonly callId: string;
  readonly provider: string;
  readonly modelId: string;
  readonly providerOptions?: unknown;
}

/** The fields of AI SDK 7's `LanguageModelCallEndEvent` this integration reads. */
export interface TelemetryModelCallEnd {
  readonly callId: string;
  readonly provider: string;
  readonly modelId: string;
  readonly finishReason?: string | undefined;
  readonly usage?: unknown;
  readonly providerMetadata?: unknown;
  readonly performance?: { readonly responseTimeMs?: number | undefined } | undefined;
}

/** The fields of AI SDK 7's `ToolExecutionStartEvent` this integration reads. */
export interface TelemetryToolStart {
  readonly callId: string;
  readonly toolCall: { readonly toolCallId: string; readonly toolName: string };
}

/** The fields of AI SDK 7's `ToolExecutionEndEvent` this integration reads. */
export interface TelemetryToolEnd {
  readonly callId: string;
  readonly toolExecutionMs: number;
  readonly toolCall: { readonly toolCallId: string; readonly toolName: string };
  readonly toolOutput?: { readonly type?: string } | undefined;
}

/**
 * The integration returned by {@link dripTelemetry}; it fits AI SDK 7's `Telemetry` interface.
 *
 * @example
 * ```ts
 * const telemetry: DripTelemetry = dripTelemetry({ modelCalls: false });
 * await telemetry.flush(5_000);
 * ```
 */
export interface DripTelemetry {
  onStart: (event: TelemetryOperationStart) => void;
  onLanguageModelCallStart: (event: TelemetryModelCallStart) => void;
  onLanguageModelCallEnd: (event: TelemetryModelCallEnd) => void;
  onToolExecutionStart: (event: TelemetryToolStart) => void;
  onToolExecutionEnd: (event: TelemetryToolEnd) => void;
  /** Delivers the queued records. */
  flush(timeoutMs?: number): Promise<{ delivered: boolean; remaining: number }>;
}

/**
 * Options of {@link dripTelemetry}: those of every wrapper, plus `modelCalls: false` to record only tool
 * executions (use it when the model is already metered with `meterModel` or the middleware, so calls are
 * not billed twice).
 *
 * @example
 * ```ts
 * const options: DripTelemetryOptions = { modelCalls: false };
 * ```
 */
export interface DripTelemetryOptions extends DripAiOptions {
  modelCalls?: boolean | undefined;
}

const MAX_OPEN = 10_000;

/**
 * An AI SDK 7 telemetry integration that records each model call (an `llm.call` event and its tokens,
 * as {@link dripLanguageModelMiddleware} does) and each tool execution (a `tool.call` event with `name`,
 * `duration` in ms and `success`) on the run of the request being handled. Telemetry events do not fire
 * for a stream that is aborted before it finishes, so use the middleware where aborted streams must be
 * billed; with both, pass `modelCalls: false` here. Outside a metered request, model calls and tool
 * executions are recorded for the customer named in the options or the call's `providerOptions.drip`
 * (a tool bills like the model call it came from), each as a run of its own, grouped by `run`.
 *
 * @example
 * ```ts
 * import { registerTelemetry } from 'ai';
 * import { dripTelemetry } from '@drip/ai';
 *
 * registerTelemetry(dripTelemetry());
 * ```
 */
export function dripTelemetry(options: DripTelemetryOptions = {}): DripTelemetry {
  const recorder = new Recorder(options);
  const modelCalls = options.modelCalls !== false;
  // Scopes captured when a model call or tool starts (in the caller's async context), taken when it ends.
  const open = new Map<string, CallScope[]>();
  const push = (key: string, scope: CallScope): void => {
    if (open.size >= MAX_OPEN && !open.has(key)) {
      const oldest = open.keys().next().value;
      if (oldest !== undefined) open.delete(oldest);
    }
    const list = open.get(key);
    if (list) list.push(scope);
    else open.set(key, [scope]);
  };
  const take = (key: string): CallScope | undefined => {
    const list = open.get(key);
    const scope = list?.shift();
    if (list && list.length === 0) open.delete(key);
    return scope;
  };
  // Per-call options (`providerOptions.drip`) by the generateText/streamText call they came with, so that
  // the tools of that call bill the same customer and run (tool events carry no provider options).
  const callOptions = new Map<string, unknown>();
  const remember = (callId: string, providerOptions: unknown): void => {
    if (callOptions.size >= MAX_OPEN && !callOptions.has(callId)) {
      const oldest = callOptions.keys().next().value;
      if (oldest !== undefined) callOptions.delete(oldest);
    }
    callOptions.set(callId, providerOptions);
  };
  return {
    // The call's options (`providerOptions.drip`) arrive with the operation (generateText, streamText),
    // not with each model call or tool execution of it.
    onStart(event) {
      try {
        if (event.providerOptions !== undefined) remember(event.callId, event.providerOptions);
      } catch (err) {
        recorder.error(err, 'record');
      }
    },
    onLanguageModelCallStart(event) {
      if (!modelCalls) return;
      try {
        const providerOptions = event.providerOptions ?? callOptions.get(event.callId);
        push(`m:${event.callId}`, recorder.begin(providerOptions, Date.now()));
      } catch (err) {
        recorder.error(err, 'record');
      }
    },
    onLanguageModelCallEnd(event) {
      if (!modelCalls) return;
      try {
        const scope = take(`m:${event.callId}`) ?? recorder.begin(undefined, Date.now());
        const usage = normalizeModelUsage(event.usage, event.providerMetadata);
        const latency = event.performance?.responseTimeMs;
        recorder.record(scope, {
          model: event.modelId,
          provider: event.provider,
          usage: { ...usage, inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 },
          estimated: usage.inputTokens === undefined || usage.outputTokens === undefined,
          latencyMs: typeof latency === 'number' ? latency : Date.now() - scope.startedAt,
          finishReason: event.finishReason,
        });
      } catch (err) {
        recorder.error(err, 'record');
      }
    },
    onToolExecutionStart(event) {
      try {
        const scope = recorder.begin(callOptions.get(event.callId), Date.now());
        scope.position = recorder.toolPosition(scope);
        push(`t:${event.toolCall.toolCallId}`, scope);
      } catch (err) {
        recorder.error(err, 'record');
      }
    },
    onToolExecutionEnd(event) {
      try {
        const scope =
          take(`t:${event.toolCall.toolCallId}`) ??
          recorder.begin(callOptions.get(event.callId), Date.now() - event.toolExecutionMs);
        recorder.recordTool(scope, {
          name: event.toolCall.toolName,
          durationMs: event.toolExecutionMs,
          success: event.toolOutput?.type !== 'tool-error',
        });
      } catch (err) {
        recorder.error(err, 'record');
      }
    },
    flush(timeoutMs) {
      return recorder.flush(timeoutMs);
    },
  };
}

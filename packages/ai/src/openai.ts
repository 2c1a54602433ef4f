/** Metering of the official `openai` client: chat completions and responses, streamed or not. */

import { type ProviderReader, type StreamState, bag, meterClient, text } from './clients';
import type { DripAiOptions } from './recorder';
import { normalizeOpenAIUsage } from './usage';

const reader: ProviderReader = {
  provider: 'openai',
  response(body) {
    const b = bag(body);
    const choice = bag(Array.isArray(b.choices) ? b.choices[0] : undefined);
    const reason = choice.finish_reason ?? b.status;
    return {
      usage: normalizeOpenAIUsage(b.usage),
      model: typeof b.model === 'string' ? b.model : undefined,
      finishReason: typeof reason === 'string' ? reason : undefined,
    };
  },
  event(state: StreamState, event: unknown) {
    const e = bag(event);
    if (typeof e.type === 'string') {
      // Responses API events.
      if (e.type.endsWith('.delta')) state.chars += text(e.delta);
      const response = bag(e.response);
      if (typeof response.model === 'string') state.model = response.model;
      if (e.type === 'response.completed' || e.type === 'response.incomplete') {
        state.usage = normalizeOpenAIUsage(response.usage);
        state.complete = state.usage.outputTokens !== undefined;
        if (typeof response.status === 'string') state.finishReason = response.status;
      }
      return;
    }
    // Chat completion chunks; the usage chunk comes last with `stream_options: { include_usage: true }`.
    if (typeof e.model === 'string') state.model = e.model;
    if (Array.isArray(e.choices)) {
      for (const c of e.choices) {
        const choice = bag(c);
        const delta = bag(choice.delta);
        state.chars += text(delta.content) + text(delta.reasoning_content) + text(delta.refusal);
        if (Array.isArray(delta.tool_calls)) {
          for (const t of delta.tool_calls) state.chars += text(bag(bag(t).function).arguments);
        }
        if (typeof choice.finish_reason === 'string') state.finishReason = choice.finish_reason;
      }
    }
    if (e.usage !== null && typeof e.usage === 'object') {
      state.usage = normalizeOpenAIUsage(e.usage);
      state.complete = state.usage.outputTokens !== undefined;
    }
  },
};

/**
 * The `openai` client with `chat.completions.create` and `responses.create` metered, streamed or not.
 * The client is not modified (a proxy is returned) and answers exactly as before; each call's tokens go
 * to the request's run and customer, or to the customer in the options outside a request. Per call,
 * pass `{ drip: { customerId, run, key } }` in the request options. For exact counts on streamed chat
 * completions, ask for them with `stream_options: { include_usage: true }`; without it the counts are
 * estimated from the streamed text and marked `estimated`.
 *
 * @example
 * ```ts
 * import OpenAI from 'openai';
 * import { meterOpenAI } from '@drip/ai';
 *
 * const openai = meterOpenAI(new OpenAI());
 * const completion = await openai.chat.completions.create({
 *   model: 'gpt-4o-mini',
 *   messages: [{ role: 'user', content: 'Hello' }],
 * });
 * ```
 */
export function meterOpenAI<C extends object>(client: C, options: DripAiOptions = {}): C {
  return meterClient(client, ['chat.completions.create', 'responses.create'], reader, options);
}

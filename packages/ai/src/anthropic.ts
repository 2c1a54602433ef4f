/** Metering of the official `@anthropic-ai/sdk` client: messages, streamed or not. */

import { type ProviderReader, type StreamState, bag, meterClient, text } from './clients';
import type { DripAiOptions } from './recorder';
import { count, normalizeAnthropicUsage } from './usage';

const reader: ProviderReader = {
  provider: 'anthropic',
  response(body) {
    const b = bag(body);
    return {
      usage: normalizeAnthropicUsage(b.usage),
      model: typeof b.model === 'string' ? b.model : undefined,
      finishReason: typeof b.stop_reason === 'string' ? b.stop_reason : undefined,
    };
  },
  event(state: StreamState, event: unknown) {
    const e = bag(event);
    if (e.type === 'message_start') {
      // Input counts (cache reads and writes included) come first; output counts come at the end.
      const message = bag(e.message);
      if (typeof message.model === 'string') state.model = message.model;
      const input = normalizeAnthropicUsage(message.usage);
      state.usage = { ...input, outputTokens: undefined };
    } else if (e.type === 'content_block_delta') {
      const d = bag(e.delta);
      state.chars += text(d.text) + text(d.partial_json) + text(d.thinking);
    } else if (e.type === 'message_delta') {
      const delta = bag(e.delta);
      if (typeof delta.stop_reason === 'string') state.finishReason = delta.stop_reason;
      const output = count(bag(e.usage).output_tokens);
      if (output !== undefined) {
        state.usage = { ...state.usage, outputTokens: output };
        state.complete = true;
      }
    }
  },
};

/**
 * The `@anthropic-ai/sdk` client with `messages.create` metered, streamed or not (`messages.stream()`
 * goes through it too). The client is not modified (a proxy is returned) and answers exactly as before.
 * Input counts include cache reads and writes (`cachedInputTokens`, `cacheWriteTokens`). A stream cut
 * before its final `message_delta` bills the input counts Anthropic sent first and output estimated from
 * the streamed text, marked `estimated`.
 *
 * @example
 * ```ts
 * import Anthropic from '@anthropic-ai/sdk';
 * import { meterAnthropic } from '@drip/ai';
 *
 * const anthropic = meterAnthropic(new Anthropic());
 * const message = await anthropic.messages.create({
 *   model: 'claude-sonnet-4-5',
 *   max_tokens: 1024,
 *   messages: [{ role: 'user', content: 'Hello' }],
 * });
 * ```
 */
export function meterAnthropic<C extends object>(client: C, options: DripAiOptions = {}): C {
  return meterClient(client, ['messages.create'], reader, options);
}

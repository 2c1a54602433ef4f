/**
 * One shape for token usage, whatever reported it: AI SDK 5 (LanguageModelV2, flat counts), AI SDK 6 and
 * 7 (V3/V4, nested `inputTokens.total` ...), the OpenAI client (chat completions and responses) and the
 * Anthropic client. Every count is a finite integer >= 0 or `undefined` (unknown), never NaN.
 */

/**
 * Token counts of one model call.
 *
 * `inputTokens` counts every input token, cached ones included (`cachedInputTokens` and
 * `cacheWriteTokens` are parts of it); `outputTokens` counts every output token, reasoning ones included
 * (`reasoningTokens` is a part of it).
 *
 * @example
 * ```ts
 * const usage: TokenUsage = { inputTokens: 1200, outputTokens: 300, cachedInputTokens: 1000 };
 * ```
 */
export interface TokenUsage {
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  cachedInputTokens?: number | undefined;
  cacheWriteTokens?: number | undefined;
  reasoningTokens?: number | undefined;
}

type Bag = Record<string, unknown>;

function isBag(value: unknown): value is Bag {
  return value !== null && typeof value === 'object';
}

/** A count as reported: a finite number >= 0, rounded down; anything else is unknown. */
export function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
}

function sum(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0);
}

/**
 * Usage of an AI SDK model call (a V2, V3 or V4 `usage` object), plus the cache-write count that AI SDK 5
 * providers only report in their provider metadata (Anthropic's `cacheCreationInputTokens`).
 *
 * @example
 * ```ts
 * normalizeModelUsage({ inputTokens: 10, outputTokens: 5, totalTokens: 15 }); // V2
 * normalizeModelUsage({ inputTokens: { total: 10 }, outputTokens: { total: 5 } }); // V3 / V4
 * ```
 */
export function normalizeModelUsage(usage: unknown, providerMetadata?: unknown): TokenUsage {
  if (!isBag(usage)) return {};
  const input = usage.inputTokens;
  const output = usage.outputTokens;
  if (isBag(input) || isBag(output)) {
    const i: Bag = isBag(input) ? input : {};
    const o: Bag = isBag(output) ? output : {};
    const cacheRead = count(i.cacheRead);
    const cacheWrite = count(i.cacheWrite);
    return {
      inputTokens: count(i.total) ?? sum(sum(count(i.noCache), cacheRead), cacheWrite),
      outputTokens: count(o.total) ?? sum(count(o.text), count(o.reasoning)),
      cachedInputTokens: cacheRead,
      cacheWriteTokens: cacheWrite,
      reasoningTokens: count(o.reasoning),
    };
  }
  // Flat: a V2 model's usage, or the AI SDK's own `LanguageModelUsage` (with `*TokenDetails` from 6 on).
  const anthropic = isBag(providerMetadata) ? providerMetadata.anthropic : undefined;
  const inDetails: Bag = isBag(usage.inputTokenDetails) ? usage.inputTokenDetails : {};
  const outDetails: Bag = isBag(usage.outputTokenDetails) ? usage.outputTokenDetails : {};
  return {
    inputTokens: count(input),
    outputTokens: count(output),
    cachedInputTokens: count(usage.cachedInputTokens) ?? count(inDetails.cacheReadTokens),
    cacheWriteTokens:
      count(inDetails.cacheWriteTokens) ??
      (isBag(anthropic) ? count(anthropic.cacheCreationInputTokens) : undefined),
    reasoningTokens: count(usage.reasoningTokens) ?? count(outDetails.reasoningTokens),
  };
}

/**
 * Usage of an OpenAI response: chat completions (`prompt_tokens`, `completion_tokens`, details) or the
 * Responses API (`input_tokens`, `output_tokens`, details).
 *
 * @example
 * ```ts
 * normalizeOpenAIUsage({ prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 4 } });
 * ```
 */
export function normalizeOpenAIUsage(usage: unknown): TokenUsage {
  if (!isBag(usage)) return {};
  const inDetails = usage.prompt_tokens_details ?? usage.input_tokens_details;
  const outDetails = usage.completion_tokens_details ?? usage.output_tokens_details;
  return {
    inputTokens: count(usage.prompt_tokens ?? usage.input_tokens),
    outputTokens: count(usage.completion_tokens ?? usage.output_tokens),
    cachedInputTokens: isBag(inDetails) ? count(inDetails.cached_tokens) : undefined,
    cacheWriteTokens: undefined,
    reasoningTokens: isBag(outDetails) ? count(outDetails.reasoning_tokens) : undefined,
  };
}

/**
 * Usage of an Anthropic message. Anthropic's `input_tokens` excludes cache reads and writes; the total
 * input here includes them, as every other provider's does.
 *
 * @example
 * ```ts
 * normalizeAnthropicUsage({ input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 5 });
 * // { inputTokens: 100, outputTokens: 5, cachedInputTokens: 90, ... }
 * ```
 */
export function normalizeAnthropicUsage(usage: unknown): TokenUsage {
  if (!isBag(usage)) return {};
  const read = count(usage.cache_read_input_tokens);
  const write = count(usage.cache_creation_input_tokens);
  return {
    inputTokens: sum(sum(count(usage.input_tokens), read), write),
    outputTokens: count(usage.output_tokens),
    cachedInputTokens: read,
    cacheWriteTokens: write,
    reasoningTokens: undefined,
  };
}

/**
 * Tokens estimated from text: one per 4 characters, rounded up (the usual rule of thumb for English with
 * BPE tokenizers). Used only when a provider never reported the count (an aborted stream), and then the
 * record says `estimated: true`.
 *
 * @example
 * ```ts
 * estimateTokens(12); // 3
 * ```
 */
export function estimateTokens(chars: number): number {
  return chars > 0 ? Math.ceil(chars / 4) : 0;
}

/** Characters of text in a prompt (AI SDK prompt, OpenAI messages/input, Anthropic messages), bounded walk. */
export function promptChars(prompt: unknown, depth = 0): number {
  if (typeof prompt === 'string') return prompt.length;
  if (depth > 6 || !isBag(prompt)) return 0;
  if (Array.isArray(prompt)) {
    let n = 0;
    for (const item of prompt) n += promptChars(item, depth + 1);
    return n;
  }
  let n = 0;
  for (const key of ['text', 'content', 'input', 'messages', 'system', 'instructions', 'prompt']) {
    if (key in prompt) n += promptChars(prompt[key], depth + 1);
  }
  return n;
}

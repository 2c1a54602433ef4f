/**
 * The AI agent every example app runs on its `/agent` route: the AI SDK's `generateText` with a
 * web-search tool, over a fake language model that answers locally (no network, no API key) and
 * deterministically, so the tests and the demo know what each call bills.
 *
 * One package for the four examples, so the agent they demonstrate is the same code everywhere; in a
 * real app, `fakeModel()` is a provider's model (`openai('gpt-4o-mini')`) and `webSearch` a real tool.
 */

import { getCurrentRun } from '@drip/core';
import { type LanguageModel, generateText, stepCountIs, tool } from 'ai';
import { z } from 'zod';

/** An AI SDK 6 language model (specification `v3`), the kind `meterModel()` wraps. */
export type FakeLanguageModel = Extract<LanguageModel, { specificationVersion: 'v3' }>;
type CallOptions = Parameters<FakeLanguageModel['doGenerate']>[0];
type GenerateResult = Awaited<ReturnType<FakeLanguageModel['doGenerate']>>;

/** The agent's system prompt. */
const SYSTEM_PROMPT = 'You are a research assistant. Search the web before you answer.';

/** One token per 4 characters, rounded up: the fake model's (and the demo's) token count of a text. */
function fakeTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The text of a prompt part as the fake model counts it. */
function partText(part: unknown): string {
  if (part === null || typeof part !== 'object') return '';
  const p = part as { type?: unknown; text?: unknown; input?: unknown; output?: unknown };
  if (p.type === 'text' && typeof p.text === 'string') return p.text;
  if (p.type === 'tool-call') return typeof p.input === 'string' ? p.input : JSON.stringify(p.input);
  if (p.type === 'tool-result') {
    const value = (p.output as { value?: unknown } | undefined)?.value;
    return typeof value === 'string' ? value : JSON.stringify(value ?? '');
  }
  return '';
}

/** Every character the model reads: system prompt, user text, earlier tool calls and tool results. */
function promptText(prompt: CallOptions['prompt']): string {
  let text = '';
  for (const message of prompt) {
    if (typeof message.content === 'string') text += message.content;
    else for (const part of message.content) text += partText(part);
  }
  return text;
}

function lastUserText(prompt: CallOptions['prompt']): string {
  for (let i = prompt.length - 1; i >= 0; i--) {
    const message = prompt[i];
    if (message?.role === 'user') return message.content.map(partText).join('');
  }
  return '';
}

/** What the fake model answers: a web-search call first, then (once it has a result) the answer. */
function answer(options: CallOptions, modelId: string): GenerateResult {
  const prompt = options.prompt;
  const input = fakeTokens(promptText(prompt));
  const hasResult = prompt.some((m) => m.role === 'tool');
  const query = lastUserText(prompt);
  let content: GenerateResult['content'];
  let output: string;
  if (hasResult || options.tools === undefined || options.tools.length === 0) {
    output = `Here is what I found about "${query.slice(0, 60)}".`;
    content = [{ type: 'text', text: output }];
  } else {
    output = JSON.stringify({ query });
    content = [{ type: 'tool-call', toolCallId: 'call_1', toolName: 'webSearch', input: output }];
  }
  const outputTokens = fakeTokens(output);
  return {
    content,
    finishReason: { unified: content[0]?.type === 'tool-call' ? 'tool-calls' : 'stop', raw: undefined },
    usage: {
      inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
      outputTokens: { total: outputTokens, text: outputTokens, reasoning: undefined },
    },
    response: { modelId },
    warnings: [],
  };
}

/**
 * A fake chat model: it calls `webSearch` with the user's prompt, then answers once it has the result.
 * Token counts are one per 4 characters of what it reads (input) and writes (output), so the same
 * prompt always bills the same. `doStream` streams the same answer.
 *
 * @example
 * ```ts
 * import { meterModel } from '@drip/ai';
 * const model = meterModel(fakeModel(), { outbox: metering.meter.outbox });
 * ```
 */
export function fakeModel(modelId = 'fake-4o-mini'): FakeLanguageModel {
  return {
    specificationVersion: 'v3',
    provider: 'fake',
    modelId,
    supportedUrls: {},
    async doGenerate(options) {
      return answer(options, modelId);
    },
    async doStream(options) {
      const r = answer(options, modelId);
      const parts: Array<Record<string, unknown>> = [{ type: 'response-metadata', modelId }];
      for (const part of r.content) {
        if (part.type === 'text') {
          parts.push({ type: 'text-start', id: 't' }, { type: 'text-delta', id: 't', delta: part.text });
          parts.push({ type: 'text-end', id: 't' });
        } else parts.push(part);
      }
      parts.push({ type: 'finish', finishReason: r.finishReason, usage: r.usage });
      const stream = new ReadableStream({
        start(controller) {
          for (const part of parts) controller.enqueue(part);
          controller.close();
        },
      });
      return { stream } as Awaited<ReturnType<FakeLanguageModel['doStream']>>;
    },
  };
}

/** What the fake web search returns for a query. */
function searchResult(query: string): string {
  return `Top result for "${query.slice(0, 60)}": an article from the example knowledge base.`;
}

/**
 * The agent's web-search tool. It records a `tool.call` event (name and duration) on the run of the
 * request being handled, through core's `getCurrentRun()`, from wherever the AI SDK runs it.
 *
 * @example
 * ```ts
 * await generateText({ model, prompt, tools: { webSearch }, stopWhen: stepCountIs(3) });
 * ```
 */
export const webSearch = tool({
  description: 'Searches the web and returns the top result.',
  inputSchema: z.object({ query: z.string() }),
  async execute({ query }) {
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 2)); // the "network" of the search
    const duration = Math.round((performance.now() - started) * 100) / 100;
    getCurrentRun()?.event({ eventType: 'tool.call', name: 'web-search', duration });
    return searchResult(query);
  },
});

/** What {@link runAgent} returns: the answer, and the tokens of every step summed. */
export interface AgentResult {
  answer: string;
  usage: { inputTokens: number; outputTokens: number };
  /** Model calls made (2: the search call, then the answer). */
  steps: number;
}

/**
 * Runs the agent: `generateText` with the web-search tool, up to three steps. Pass the model wrapped
 * with `meterModel()` from `@drip/ai`: each step is one model call, so one `llm.call` event and its
 * tokens on the request's run and customer.
 *
 * @example
 * ```ts
 * const { answer, usage } = await runAgent(model, 'What is the weather in Paris today?');
 * ```
 */
export async function runAgent(model: LanguageModel, prompt: string): Promise<AgentResult> {
  const result = await generateText({
    model,
    system: SYSTEM_PROMPT,
    prompt,
    tools: { webSearch },
    stopWhen: stepCountIs(3),
  });
  return {
    answer: result.text,
    usage: {
      inputTokens: result.totalUsage.inputTokens ?? 0,
      outputTokens: result.totalUsage.outputTokens ?? 0,
    },
    steps: result.steps.length,
  };
}

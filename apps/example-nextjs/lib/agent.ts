/** What the simulated agent answers: deterministic, so the demo and the tests know the token counts. */
export interface AgentResult {
  answer: string;
  inputTokens: number;
  outputTokens: number;
  toolDurationMs: number;
}

/**
 * A stand-in for an LLM agent: "calls" a model and a web-search tool. Token counts derive from the
 * prompt length only (input = ceil(length / 4) + 8 for the system prompt, output = 2 × input), so the
 * same prompt always bills the same.
 */
export async function simulateAgent(prompt: string): Promise<AgentResult> {
  const inputTokens = Math.ceil(prompt.length / 4) + 8;
  const outputTokens = inputTokens * 2;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 2)); // the "web-search" tool
  const toolDurationMs = Math.round((performance.now() - started) * 100) / 100;
  return {
    answer: `Here is what I found about "${prompt.slice(0, 60)}".`,
    inputTokens,
    outputTokens,
    toolDurationMs,
  };
}

import { withDrip } from '@drip/nextjs';
import { simulateAgent } from '../../../lib/agent';
import { dripOptions, withAuth } from '../../../lib/drip';
import { recordWebSearch } from '../../../lib/tools';

// Edge runtime route: api_calls (1 per call) plus llm_tokens, and the run's llm.call / tool.call events.
export const runtime = 'edge';

export const POST = withAuth(
  withDrip(async (request, _context: unknown, drip) => {
    const body = (await request.json().catch(() => ({}))) as { prompt?: unknown };
    const prompt = typeof body.prompt === 'string' ? body.prompt : '';
    const result = await simulateAgent(prompt);
    drip?.run.event({
      eventType: 'llm.call',
      model: 'gpt-4o-mini',
      inputTokens: result.inputTokens,
      outputTokens: result.outputTokens,
    });
    recordWebSearch(result.toolDurationMs); // deep code: reaches the run through getDripContext()
    drip?.usage('llm_tokens', result.inputTokens + result.outputTokens);
    return Response.json({
      answer: result.answer,
      usage: { inputTokens: result.inputTokens, outputTokens: result.outputTokens },
    });
  }, dripOptions),
);

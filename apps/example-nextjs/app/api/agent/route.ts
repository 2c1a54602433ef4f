import { runAgent } from '@drip/example-agent';
import { withDrip } from '@drip/nextjs';
import { agentModel } from '../../../lib/agent';
import { dripOptions, withAuth } from '../../../lib/drip';

// Edge runtime route: api_calls (1 per call) plus, through @drip/ai, llm_tokens and an llm.call event
// per model call; the agent's web-search tool adds its tool.call event from deep code (getCurrentRun()).
export const runtime = 'edge';

export const POST = withAuth(
  withDrip(async (request) => {
    const body = (await request.json().catch(() => ({}))) as { prompt?: unknown };
    const prompt = typeof body.prompt === 'string' ? body.prompt : '';
    const { answer, usage } = await runAgent(agentModel(), prompt);
    return Response.json({ answer, usage });
  }, dripOptions),
);

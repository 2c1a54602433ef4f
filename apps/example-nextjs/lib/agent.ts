import { meterModel } from '@drip/ai';
import { fakeModel } from '@drip/example-agent';
import { dripMeter } from '@drip/nextjs';
import { dripOptions } from './drip';

let model: ReturnType<typeof fakeModel> | undefined;

/**
 * The agent's model, metered by @drip/ai: each model call (the search step, then the answer) adds an
 * `llm.call` event to the request's run and bills its tokens (`llm_tokens`) to the request's customer.
 * Its records go through the routes' own outbox (`dripMeter(dripOptions)`), so they are delivered with
 * the request's records after the response. Created on first use, once per runtime (Node, Edge).
 */
export function agentModel(): ReturnType<typeof fakeModel> {
  model ??= meterModel(fakeModel(), { outbox: dripMeter(dripOptions).outbox });
  return model;
}

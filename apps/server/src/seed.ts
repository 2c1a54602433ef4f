/** Demo data through the public API of a running server (so it goes through every rule of the API). */
export interface SeedResult {
  customers: string[];
  runs: string[];
  usageEvents: number;
}

/**
 * Seeds a few customers, usage and agent runs with `llm.call` / `tool.call` events.
 *
 * @example
 * ```ts
 * const srv = await startServer({ port: 0, memory: true });
 * await seedDemoData(srv.url, srv.apiKey);
 * ```
 */
export async function seedDemoData(origin: string, apiKey: string): Promise<SeedResult> {
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${origin}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok && res.status !== 409)
      throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const stamp = Date.now().toString(36);
  const customers: string[] = [];
  for (const name of ['acme', 'globex', 'initech']) {
    const c = await call('POST', '/customers', {
      externalCustomerId: `${name}-${stamp}`,
      name,
      email: `billing@${name}.example`,
    });
    customers.push(String(c.id ?? c.existingCustomerId));
  }
  let usageEvents = 0;
  const runs: string[] = [];
  for (const [i, customerId] of customers.entries()) {
    for (let n = 0; n < 5; n++) {
      await call('POST', '/usage/internal', {
        customerId,
        usageType: 'api_calls',
        quantity: 1,
        idempotencyKey: `seed_${stamp}_${i}_${n}`,
      });
      usageEvents++;
    }
    await call('POST', '/usage', {
      customerId,
      usageType: 'llm_tokens',
      quantity: 1700 * (i + 1),
      idempotencyKey: `seed_${stamp}_${i}_tok`,
    });
    usageEvents++;
    const run = await call('POST', '/runs/record', {
      customerId,
      workflow: 'research-agent',
      status: i === 2 ? 'FAILED' : 'COMPLETED',
      errorMessage: i === 2 ? 'tool timed out' : undefined,
      externalRunId: `seed_${stamp}_${i}`,
      events: [
        {
          eventType: 'llm.call',
          model: 'gpt-4',
          inputTokens: 500,
          outputTokens: 1200,
          quantity: 1700,
          units: 'tokens',
        },
        { eventType: 'tool.call', name: 'web-search', duration: 1500 },
      ],
    });
    runs.push(String((run.run as { id?: unknown } | undefined)?.id));
  }
  return { customers, runs, usageEvents };
}

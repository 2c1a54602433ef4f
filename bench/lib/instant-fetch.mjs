// A `fetch` for the Drip client that answers at once, without a network: `/health` lists the bulk
// capabilities, and each bulk call gets one success per item. Benchmarks use it to separate what delivery
// costs the app's process on the wire from what building and sending the batches costs.

/**
 * @param {string | URL} url
 * @param {{ body?: string }} [init]
 */
export async function instantFetch(url, init) {
  if (String(url).endsWith('/health')) {
    return Response.json({ status: 'healthy', capabilities: ['usage-bulk', 'runs-record-bulk'] });
  }
  const body = JSON.parse(init?.body ?? '{}');
  const n = Array.isArray(body.runs) ? body.runs.length : Array.isArray(body.events) ? body.events.length : 1;
  const results = Array.from({ length: n }, () => ({ status: 201, success: true, created: true }));
  return Response.json({
    success: true,
    results,
    summary: { total: n, created: n, duplicates: 0, failed: 0 },
  });
}

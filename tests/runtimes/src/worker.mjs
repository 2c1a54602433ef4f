// Entry for workerd: the same steps behind a fetch handler (`/<step>`), configured from the bindings.
// Bundled by the test with esbuild for a neutral platform, so a `node:` import fails the bundle.
import { coreClient, honoApp, outboxClose } from './scenario.mjs';

/** @type {Record<string, (t: import('./scenario.mjs').Target) => Promise<unknown>>} */
const steps = { hono: honoApp, core: coreClient, outbox: outboxClose };

export default {
  /**
   * @param {Request} request
   * @param {{ DRIP_API_URL: string; DRIP_API_KEY: string }} env
   */
  async fetch(request, env) {
    const url = new URL(request.url);
    const step = steps[url.pathname.slice(1)];
    if (step === undefined) return new Response('unknown step', { status: 404 });
    const customer = url.searchParams.get('customer') ?? 'cus_workerd';
    const result = await step({ apiUrl: env.DRIP_API_URL, apiKey: env.DRIP_API_KEY, customer });
    return Response.json(result);
  },
};

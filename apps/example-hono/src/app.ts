import { meterModel } from '@drip/ai';
import { fakeModel, runAgent } from '@drip/example-agent';
import { type DripHonoMiddleware, type DripHonoOptions, drip } from '@drip/hono';
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';

/** The app's API keys and the users they belong to (a real app would look them up in its database). */
export const API_KEYS: Readonly<Record<string, string>> = {
  key_acme: 'acme',
  key_globex: 'globex',
  key_initech: 'initech',
};

/** The users the app knows, whose Drip customers are resolved at start-up. */
export const USERS = ['acme', 'globex', 'initech'] as const;

/** What the auth middleware sets as `c.get('user')`; `customerId` is what `@drip/hono` looks for by default. */
export interface AppUser {
  name: string;
  customerId: string;
}

declare module 'hono' {
  interface ContextVariableMap {
    user: AppUser;
  }
}

export interface ExampleAppOptions {
  /** Drip customer id per user name. */
  customers: Readonly<Record<string, string>>;
  /** Passed to `drip()` (the client, in this app). */
  drip?: DripHonoOptions;
}

/** Builds the Hono app: `/health`, then `/api/*` behind the app's own auth and `@drip/hono`. */
export function createApp(options: ExampleAppOptions): { app: Hono; metering: DripHonoMiddleware } {
  const app = new Hono();

  app.get('/health', (c) => c.json({ status: 'ok' }));

  // The app's own auth answers 401 before metering: unauthenticated calls are never billed.
  const auth = createMiddleware(async (c, next) => {
    const key = c.req.header('x-api-key');
    const name = key === undefined ? undefined : API_KEYS[key];
    const customerId = name === undefined ? undefined : options.customers[name];
    if (name === undefined || customerId === undefined) {
      return c.json({ error: 'unauthorized', message: 'Send a valid x-api-key header.' }, 401);
    }
    c.set('user', { name, customerId });
    await next();
  });
  // Zero-config metering: the customer comes from c.get('user').customerId, meter api_calls, quantity 1.
  const metering = drip(options.drip);
  app.use('/api/*', auth, metering);

  app.get('/api/items/:id', (c) => {
    const id = c.req.param('id');
    return c.json({ id, name: `Item ${id}` });
  });

  // The agent's model, metered by @drip/ai: each model call (the search step, then the answer) adds an
  // llm.call event to the request's run and bills its tokens (llm_tokens) to the request's customer,
  // through the same outbox as the request's own records.
  const model = meterModel(fakeModel(), { outbox: metering.meter.outbox });

  app.post('/api/agent', async (c) => {
    const body: unknown = await c.req.json().catch(() => ({}));
    const prompt =
      typeof body === 'object' && body !== null && typeof (body as { prompt?: unknown }).prompt === 'string'
        ? (body as { prompt: string }).prompt
        : '';
    const { answer, usage } = await runAgent(model, prompt);
    return c.json({ answer, usage });
  });

  app.get('/api/fail', () => {
    throw new Error('The agent crashed (on purpose).');
  });

  app.onError((err, c) => c.json({ error: 'internal_error', message: err.message }, 500));
  return { app, metering };
}

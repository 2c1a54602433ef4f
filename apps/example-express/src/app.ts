import { meterModel } from '@drip/ai';
import { type DripExpressOptions, dripErrorHandler, dripMiddleware } from '@drip/express';
import { fakeModel, runAgent } from '@drip/example-agent';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

/** The app's API keys and the users they belong to (a real app would look them up in its database). */
export const API_KEYS: Readonly<Record<string, string>> = {
  key_acme: 'acme',
  key_globex: 'globex',
  key_initech: 'initech',
};

/** The users the app knows, whose Drip customers are resolved at start-up. */
export const USERS = ['acme', 'globex', 'initech'] as const;

/** What the auth middleware puts on `req.user`; `customerId` is what `@drip/express` looks for by default. */
export interface AppUser {
  name: string;
  customerId: string;
}

export interface ExampleAppOptions {
  /** Drip customer id per user name. */
  customers: Readonly<Record<string, string>>;
  /** Passed to `dripMiddleware()` (the client, in this app). */
  drip?: DripExpressOptions;
}

/** Builds the Express app: `/health`, then `/api` behind the app's own auth and `@drip/express`. */
export function createApp(options: ExampleAppOptions): {
  app: Express;
  metering: ReturnType<typeof dripMiddleware>;
} {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const api = express.Router();
  // The app's own auth answers 401 before metering: unauthenticated calls are never billed.
  api.use((req: Request, res: Response, next: NextFunction) => {
    const key = req.header('x-api-key');
    const name = key === undefined ? undefined : API_KEYS[key];
    const customerId = name === undefined ? undefined : options.customers[name];
    if (name === undefined || customerId === undefined) {
      res.status(401).json({ error: 'unauthorized', message: 'Send a valid x-api-key header.' });
      return;
    }
    const user: AppUser = { name, customerId };
    (req as Request & { user?: AppUser }).user = user;
    next();
  });
  // Zero-config metering: the customer comes from req.user.customerId, meter api_calls, quantity 1.
  const metering = dripMiddleware(options.drip);
  api.use(metering);

  api.get('/items/:id', (req, res) => {
    res.json({ id: req.params.id, name: `Item ${req.params.id}` });
  });

  // The agent's model, metered by @drip/ai: each model call (the search step, then the answer) adds an
  // llm.call event to the request's run and bills its tokens (llm_tokens) to the request's customer,
  // through the same outbox as the request's own records.
  const model = meterModel(fakeModel(), { outbox: metering.meter.outbox });

  api.post('/agent', async (req, res) => {
    const prompt = typeof req.body?.prompt === 'string' ? req.body.prompt : '';
    const { answer, usage } = await runAgent(model, prompt);
    res.json({ answer, usage });
  });

  api.get('/fail', () => {
    throw new Error('The agent crashed (on purpose).');
  });

  app.use('/api', api);
  // Records the error on the run (FAILED, errorCode = the error's name), then passes it on.
  app.use(dripErrorHandler());
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const message = err instanceof Error ? err.message : 'Internal error';
    res.status(500).json({ error: 'internal_error', message });
  });
  return { app, metering };
}

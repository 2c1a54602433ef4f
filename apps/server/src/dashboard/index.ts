import { Hono } from 'hono';

/** What the server hands the dashboard when it mounts it at `/`. */
export interface DashboardOptions {
  /** Server version shown in the page footer. */
  version: string;
}

/**
 * The dashboard sub-app, mounted by the server at `/` (the API lives under `/v1`).
 *
 * @example
 * ```ts
 * app.route('/', createDashboard({ version }));
 * ```
 */
export function createDashboard(options: DashboardOptions): Hono {
  const app = new Hono();
  app.get('/', (c) =>
    c.html(`<!doctype html><html><head><title>Drip local</title></head><body><h1>Drip local server</h1><p>v${options.version}</p></body></html>`),
  );
  return app;
}

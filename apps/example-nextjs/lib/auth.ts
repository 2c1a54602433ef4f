import { Drip } from '@drip/core';

/** The app's API keys and the users they belong to (a real app would look them up in its database). */
export const API_KEYS: Readonly<Record<string, string>> = {
  key_acme: 'acme',
  key_globex: 'globex',
  key_initech: 'initech',
};

/** The users the app knows, whose Drip customers are resolved at start-up. */
export const USERS = ['acme', 'globex', 'initech'] as const;

/** The authenticated caller. */
export interface AppUser {
  name: string;
  customerId: string;
}

const CUSTOMERS = Symbol.for('example-nextjs.customers');
type Store = { [CUSTOMERS]?: Promise<Record<string, string>> };

/** A Drip client configured from `DRIP_API_KEY` and `DRIP_API_URL` (the local server's origin). */
export function dripClient(): Drip {
  return new Drip({ apiKey: process.env.DRIP_API_KEY, baseUrl: process.env.DRIP_API_URL });
}

/**
 * Drip customer id per user name (external id = user name), resolved once per server process (at
 * start-up from `instrumentation.ts` for the Node runtime, on first use in the Edge sandbox) and kept on
 * `globalThis` so every route bundle shares it. A failed lookup is retried by the next request.
 */
export function customers(): Promise<Record<string, string>> {
  const store = globalThis as Store;
  store[CUSTOMERS] ??= (async () => {
    const client = dripClient();
    const ids: Record<string, string> = {};
    for (const user of USERS) ids[user] = (await client.getOrCreateCustomer(user)).id;
    return ids;
  })().catch((error: unknown) => {
    store[CUSTOMERS] = undefined;
    throw error;
  });
  return store[CUSTOMERS];
}

/** The caller behind an `x-api-key` value, or `undefined`. */
export async function authenticate(key: string | null | undefined): Promise<AppUser | undefined> {
  const name = key ? API_KEYS[key] : undefined;
  if (name === undefined) return undefined;
  const customerId = (await customers())[name];
  return customerId === undefined ? undefined : { name, customerId };
}

/** The app's 401 answer, sent by its own auth before metering (unauthenticated calls are never billed). */
export const UNAUTHORIZED = { error: 'unauthorized', message: 'Send a valid x-api-key header.' };

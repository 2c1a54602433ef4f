import type { Driver, Queryable } from './db/driver';

/** The data space of a request: one project, one mode (spec §2.2). */
export interface Scope {
  projectId: string;
  mode: 'test' | 'live';
}

/** Who is calling: the key pair and its type. */
export interface AuthInfo extends Scope {
  keyId: string;
  keyType: 'secret' | 'public';
  /** A previous secret key inside its rotation grace: it may call the API, but not manage keys. */
  rotatedOut: boolean;
}

/** One entitlement rule (spec §3.9). */
export interface EntitlementRule {
  featureKey: string;
  limitType: 'COUNT' | 'AMOUNT';
  period: 'DAILY' | 'MONTHLY';
  limitValue: number;
}

/** Billing and delivery settings of a server. */
export interface ServerSettings {
  /** Unit price per `usageType` (decimal USDC strings), both modes. */
  prices: Record<string, string>;
  /** Unit price when a `usageType` has none; test mode only unless `liveDefaultPrice` is set. Default `"0.001000"`. */
  defaultPrice: string | null;
  /** Default unit price in live mode. Default none. */
  liveDefaultPrice: string | null;
  /** Starting balance of a new test-mode customer. Default `"100.000000"`. */
  initialTestBalance: string;
  /** `customer.balance.low` threshold. Default `"1.000000"`. */
  lowBalanceThreshold: string;
  /** Delays between webhook delivery attempts in ms (spec §8.4); 8 retries after the first attempt. */
  webhookRetryScheduleMs: number[];
  /** Per-attempt timeout of a webhook delivery. Default 30 s. */
  webhookTimeoutMs: number;
  /** How often the background worker looks for due deliveries and pending charges. Default 1000 ms. */
  workerIntervalMs: number;
  /** Delay before an async charge settles. Default 250 ms. */
  asyncSettleDelayMs: number;
  /** Grace period of a rotated webhook secret. Default 24 h. */
  webhookSecretGraceMs: number;
  /** Entitlement rules (one plan for every customer). Default none: everything is allowed. */
  entitlements: EntitlementRule[];
  /** Per-project request rate of the API, e.g. `"100/s"` (429 `RATE_LIMIT_EXCEEDED` beyond it). Default `null`: off. */
  rateLimit: string | null;
}

/** Default settings (spec §2.9, §8.4). */
export const DEFAULT_SETTINGS: ServerSettings = {
  prices: {},
  defaultPrice: '0.001000',
  liveDefaultPrice: null,
  initialTestBalance: '100.000000',
  lowBalanceThreshold: '1.000000',
  webhookRetryScheduleMs: [
    30_000, 120_000, 600_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000,
  ],
  webhookTimeoutMs: 30_000,
  workerIntervalMs: 1000,
  asyncSettleDelayMs: 250,
  webhookSecretGraceMs: 24 * 3600 * 1000,
  entitlements: [],
  rateLimit: null,
};

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** A structured logger (one JSON object per line by default). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Everything a route handler needs. */
export interface Deps {
  db: Driver;
  settings: ServerSettings;
  log: Logger;
  version: string;
  /** Idempotency keys being executed in this process → fingerprint. */
  inflight: Map<string, string>;
  /** Wakes the background worker (new deliveries or pending charges). */
  wake(): void;
  /** Reports rows a request stored, so that the planner's statistics follow the tables' growth. */
  wrote(rows: number): void;
  /** Believe `X-Forwarded-*` / `Forwarded` headers (the server is behind a reverse proxy). Default false. */
  trustProxy?: boolean;
}

/** Hono environment of the API. */
export type AppEnv = { Variables: { auth: AuthInfo; requestId: string } };

export type { Driver, Queryable };

-- Drip local server schema, version 1. Every data table is partitioned by (project_id, mode).
-- Money is integer micro-USDC (bigint); quantities are numeric with 6 decimals.

CREATE TABLE projects (
  id text PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  project_id text NOT NULL REFERENCES projects(id),
  mode text NOT NULL CHECK (mode IN ('test', 'live')),
  name text NOT NULL,
  public_key text NOT NULL,
  public_key_hash text NOT NULL UNIQUE,
  secret_key_hash text NOT NULL UNIQUE,
  secret_key_hint text NOT NULL,
  previous_secret_key_hash text,
  previous_secret_key_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  rotated_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_prev_hash ON api_keys (previous_secret_key_hash);
CREATE INDEX api_keys_project ON api_keys (project_id, mode, created_at DESC, id DESC);

CREATE TABLE customers (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  external_customer_id text,
  onchain_address text,
  email text,
  name text,
  is_internal boolean NOT NULL DEFAULT false,
  status text NOT NULL DEFAULT 'ACTIVE',
  metadata jsonb,
  balance_micros bigint NOT NULL DEFAULT 0,
  pending_micros bigint NOT NULL DEFAULT 0,
  low_balance_alerted boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_external ON customers (project_id, mode, external_customer_id);
CREATE UNIQUE INDEX customers_onchain ON customers (project_id, mode, lower(onchain_address));
CREATE INDEX customers_list ON customers (project_id, mode, created_at DESC, id DESC);

CREATE TABLE balance_ledger (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  customer_id text NOT NULL REFERENCES customers(id),
  amount_micros bigint NOT NULL,
  reason text NOT NULL,
  charge_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX balance_ledger_customer ON balance_ledger (customer_id, created_at);

CREATE TABLE idempotency_keys (
  project_id text NOT NULL,
  mode text NOT NULL,
  key text NOT NULL,
  route_class text NOT NULL,
  fingerprint text NOT NULL,
  status_code integer,
  response jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, mode, key)
);

CREATE TABLE workflows (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  name text NOT NULL,
  slug text NOT NULL,
  product_surface text NOT NULL DEFAULT 'CUSTOM',
  chain text,
  description text,
  metadata jsonb,
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX workflows_slug ON workflows (project_id, mode, slug);

CREATE TABLE runs (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  customer_id text NOT NULL REFERENCES customers(id),
  workflow_id text NOT NULL REFERENCES workflows(id),
  external_run_id text,
  correlation_id text,
  parent_run_id text,
  status text NOT NULL,
  metadata jsonb,
  error_message text,
  error_code text,
  fingerprint text,
  started_at timestamptz,
  ended_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX runs_external ON runs (project_id, mode, external_run_id);
CREATE INDEX runs_list ON runs (project_id, mode, created_at DESC, id DESC);
CREATE INDEX runs_customer ON runs (customer_id, created_at DESC);

CREATE TABLE charges (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  customer_id text NOT NULL REFERENCES customers(id),
  usage_id text NOT NULL,
  amount_micros bigint NOT NULL,
  status text NOT NULL,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz
);
CREATE INDEX charges_list ON charges (project_id, mode, created_at DESC, id DESC);
CREATE INDEX charges_customer ON charges (customer_id, created_at DESC);
CREATE INDEX charges_pending ON charges (status, created_at) WHERE status = 'PENDING';

-- The execution ledger: usage events (kind 'usage', ids use_) and run events (kind 'run', ids evt_).
CREATE TABLE events (
  id text PRIMARY KEY,
  seq bigserial,
  project_id text NOT NULL,
  mode text NOT NULL,
  kind text NOT NULL,
  customer_id text NOT NULL,
  run_id text,
  workflow_id text,
  event_type text NOT NULL,
  action_name text,
  outcome text NOT NULL DEFAULT 'SUCCEEDED',
  explanation text,
  idempotency_key text,
  parent_event_id text,
  retry_of_event_id text,
  attempt_number integer NOT NULL DEFAULT 1,
  usage_type text,
  quantity numeric(24, 6),
  units text,
  description text,
  cost_units numeric(30, 6),
  cost_currency text,
  correlation_id text,
  span_id text,
  charge_id text,
  metadata jsonb,
  attributes jsonb,
  -- Millisecond precision: timeline cursors carry the ISO timestamp, which has milliseconds.
  created_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX events_list ON events (project_id, mode, created_at DESC, id DESC);
CREATE INDEX events_run ON events (run_id, created_at, seq) WHERE run_id IS NOT NULL;
CREATE INDEX events_customer ON events (customer_id, created_at DESC);
CREATE INDEX events_parent ON events (parent_event_id) WHERE parent_event_id IS NOT NULL;

CREATE TABLE spending_caps (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  customer_id text NOT NULL REFERENCES customers(id),
  cap_type text NOT NULL,
  limit_micros bigint NOT NULL,
  auto_block boolean NOT NULL DEFAULT true,
  is_active boolean NOT NULL DEFAULT true,
  last_alert_level text,
  last_alert_period timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX spending_caps_active ON spending_caps (customer_id, cap_type) WHERE is_active;

CREATE TABLE webhooks (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  url text NOT NULL,
  events jsonb NOT NULL,
  description text,
  filters jsonb,
  is_active boolean NOT NULL DEFAULT true,
  secret text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  consecutive_failures integer NOT NULL DEFAULT 0,
  health_status text NOT NULL DEFAULT 'HEALTHY',
  last_health_change timestamptz,
  deleted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_project ON webhooks (project_id, mode) WHERE deleted_at IS NULL;

CREATE TABLE webhook_events (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  mode text NOT NULL,
  webhook_id text NOT NULL REFERENCES webhooks(id),
  event_id text NOT NULL REFERENCES webhook_events(id),
  event_type text NOT NULL,
  status text NOT NULL DEFAULT 'PENDING',
  attempts integer NOT NULL DEFAULT 0,
  last_attempt_at timestamptz,
  next_attempt_at timestamptz,
  response_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook_id, created_at DESC, id DESC);

-- Requests the API refused (4xx), and items a bulk route refused, so that lost usage shows on the
-- dashboard (issue 15). project_id and mode are null when the key itself was unknown (401): such rows are
-- shown to every project, since nothing else can say which project was meant. key_prefix holds only the
-- key's first characters, never the secret. Rows older than two days are deleted as new ones arrive.
CREATE TABLE IF NOT EXISTS refused_requests (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  project_id text,
  mode text,
  method text NOT NULL,
  path text NOT NULL,
  status integer NOT NULL,
  code text NOT NULL,
  message text,
  key_prefix text,
  customer text,
  items integer NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS refused_requests_at ON refused_requests (at);

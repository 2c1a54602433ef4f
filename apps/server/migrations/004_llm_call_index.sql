-- The dashboard's token panel (issue 14) sums the `llm.call` run events of a project and mode over a
-- period. Without this index that read walks every event of the period (usage events and other run events
-- included) through `events_list`; with it, only the model calls. Partial, so no other insert pays for it.
CREATE INDEX IF NOT EXISTS events_llm_calls ON events (project_id, mode, created_at)
  WHERE kind = 'run' AND event_type = 'llm.call';

import type { Queryable, Scope } from '../context';
import { newId } from '../util';

interface HookRow {
  id: string;
  events: string[];
  filters: { usageTypes?: string[]; customerIds?: string[]; severities?: string[] } | null;
}

function matches(hook: HookRow, type: string, data: Record<string, unknown>): boolean {
  if (!hook.events.includes(type) && !hook.events.includes('*')) return false;
  const f = hook.filters;
  if (!f) return true;
  const check = (list: string[] | undefined, value: unknown) =>
    list === undefined || (typeof value === 'string' && list.includes(value));
  return (
    check(f.usageTypes, data.usageType) &&
    check(f.customerIds, data.customerId) &&
    check(f.severities, data.severity)
  );
}

/**
 * Writes webhook events and their delivery rows inside the caller's transaction (spec §8.4: durable,
 * committed with the change that caused them). The active webhooks are read once per emitter.
 */
export class Emitter {
  private hooks: HookRow[] | undefined;
  /** Number of delivery rows written. */
  deliveries = 0;
  constructor(
    private readonly tx: Queryable,
    private readonly scope: Scope,
  ) {}

  private async load(): Promise<HookRow[]> {
    this.hooks ??= await this.tx.query<HookRow>(
      'SELECT id, events, filters FROM webhooks WHERE project_id = $1 AND mode = $2 AND is_active AND deleted_at IS NULL',
      [this.scope.projectId, this.scope.mode],
    );
    return this.hooks;
  }

  /** Whether the scope has an active webhook at all (a caller can skip building payloads when not). */
  async active(): Promise<boolean> {
    return (await this.load()).length > 0;
  }

  async emit(type: string, data: Record<string, unknown>, onlyWebhookId?: string): Promise<string | null> {
    const hooks = await this.load();
    const targets = onlyWebhookId
      ? hooks.filter((h) => h.id !== onlyWebhookId && matches(h, type, data))
      : hooks.filter((h) => matches(h, type, data));
    if (targets.length === 0) return null;
    const eventId = newId('whe');
    const createdAt = new Date().toISOString();
    await this.tx.query(
      'INSERT INTO webhook_events (id, project_id, mode, type, payload, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6)',
      [
        eventId,
        this.scope.projectId,
        this.scope.mode,
        type,
        JSON.stringify({ id: eventId, type, createdAt, data }),
        createdAt,
      ],
    );
    for (const h of targets) {
      await this.tx.query(
        `INSERT INTO webhook_deliveries (id, project_id, mode, webhook_id, event_id, event_type, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())`,
        [newId('whd'), this.scope.projectId, this.scope.mode, h.id, eventId, type],
      );
      this.deliveries++;
    }
    return eventId;
  }
}

import type { Deps, Queryable, Scope } from '../context';
import { settleCharge } from '../routes/billing';
import { Emitter } from './emit';
import { signDelivery } from './sign';

type Row = Record<string, unknown>;

/** Health from consecutive failures (spec §8.4). */
export function healthOf(failures: number): 'HEALTHY' | 'DEGRADED' | 'UNHEALTHY' {
  return failures >= 10 ? 'UNHEALTHY' : failures >= 3 ? 'DEGRADED' : 'HEALTHY';
}

/** The secrets a delivery is signed with: current, plus the previous one inside its grace period. */
export function signingSecrets(hook: Row, now = Date.now()): string[] {
  const out = [String(hook.secret)];
  const exp = hook.previous_secret_expires_at
    ? new Date(String(hook.previous_secret_expires_at)).getTime()
    : 0;
  if (hook.previous_secret && exp > now) out.push(String(hook.previous_secret));
  return out;
}

/**
 * Sends one delivery attempt and records its outcome. Failures (network, timeout, non-2xx, redirects)
 * schedule the next attempt from the retry schedule with ±10 % jitter; 410 Gone or an exhausted
 * schedule marks the delivery FAILED.
 */
export async function attemptDelivery(
  deps: Deps,
  delivery: Row,
  opts: { retry: boolean },
): Promise<{ ok: boolean; status: number | null }> {
  const [hook] = await deps.db.query('SELECT * FROM webhooks WHERE id = $1', [delivery.webhook_id]);
  const [event] = await deps.db.query('SELECT payload FROM webhook_events WHERE id = $1', [
    delivery.event_id,
  ]);
  if (!hook || !event || hook.deleted_at) {
    await deps.db.query(
      "UPDATE webhook_deliveries SET status = 'FAILED', last_error = 'webhook deleted' WHERE id = $1",
      [delivery.id],
    );
    return { ok: false, status: null };
  }
  const attempt = Number(delivery.attempts ?? 0) + 1;
  const body = JSON.stringify(event.payload);
  const signature = await signDelivery(body, signingSecrets(hook));
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetch(String(hook.url), {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.settings.webhookTimeoutMs),
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': `drip-server/${deps.version}`,
        'X-Drip-Signature': signature,
        'X-Drip-Event': String(delivery.event_type),
        'X-Drip-Event-Id': String(delivery.event_id),
        'X-Drip-Delivery-Id': String(delivery.id),
        'X-Drip-Delivery-Attempt': String(attempt),
      },
      body,
    });
    status = res.status;
    await res.arrayBuffer().catch(() => undefined);
  } catch (err) {
    error = err instanceof Error ? err.message.slice(0, 500) : 'delivery failed';
  }
  const ok = status !== null && status >= 200 && status < 300;
  const schedule = deps.settings.webhookRetryScheduleMs;
  const delay = schedule[attempt - 1];
  const final = ok
    ? 'DELIVERED'
    : !opts.retry || status === 410 || delay === undefined
      ? 'FAILED'
      : 'PENDING';
  const next =
    final === 'PENDING' && delay !== undefined
      ? new Date(Date.now() + delay * (0.9 + Math.random() * 0.2)).toISOString()
      : null;
  let unhealthy = false;
  await deps.db.transaction(async (tx) => {
    await tx.query(
      `UPDATE webhook_deliveries SET attempts = $2, last_attempt_at = now(), response_code = $3, status = $4, next_attempt_at = $5, last_error = $6 WHERE id = $1`,
      [delivery.id, attempt, status, final, next, error ?? (ok ? null : `HTTP ${status}`)],
    );
    const [h] = await tx.query<{ consecutive_failures: number; health_status: string }>(
      'SELECT consecutive_failures, health_status FROM webhooks WHERE id = $1 FOR UPDATE',
      [hook.id],
    );
    const failures = ok ? 0 : Number(h?.consecutive_failures ?? 0) + 1;
    const health = healthOf(failures);
    await tx.query(
      `UPDATE webhooks SET consecutive_failures = $2, health_status = $3,
         last_health_change = CASE WHEN health_status <> $3 THEN now() ELSE last_health_change END WHERE id = $1`,
      [hook.id, failures, health],
    );
    if (health === 'UNHEALTHY' && h?.health_status !== 'UNHEALTHY') {
      const scope: Scope = {
        projectId: String(hook.project_id),
        mode: hook.mode === 'live' ? 'live' : 'test',
      };
      const em = new Emitter(tx, scope);
      await em.emit(
        'webhook.endpoint.unhealthy',
        { webhookId: hook.id, url: hook.url, consecutiveFailures: failures },
        String(hook.id),
      );
      unhealthy = em.deliveries > 0;
    }
  });
  if (unhealthy) deps.wake();
  return { ok, status };
}

/**
 * The background worker: settles async charges and sends due webhook deliveries. It runs on an
 * interval and when woken; errors are logged and never reach request handling.
 */
export class Worker {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private deps: Deps | undefined;

  attach(deps: Deps): void {
    this.deps = deps;
    this.timer = setInterval(() => this.wake(), deps.settings.workerIntervalMs);
    this.timer.unref();
  }

  wake(): void {
    if (this.stopped || !this.deps) return;
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.tick();
    }, 5);
    this.soon.unref();
  }

  async tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.settle();
          await this.deliver();
        } while (this.again && !this.stopped);
      } catch (err) {
        this.deps?.log.error('worker tick failed', {
          error: err instanceof Error ? err.message : String(err),
        });
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async settle(): Promise<void> {
    const deps = this.deps;
    if (!deps) return;
    const due = await deps.db.query<{ id: string; project_id: string; mode: string; created_at: Date }>(
      `SELECT id, project_id, mode, created_at FROM charges WHERE status = 'PENDING' AND created_at <= now() - ($1::int * interval '1 millisecond')
       ORDER BY created_at LIMIT 200`,
      [deps.settings.asyncSettleDelayMs],
    );
    const pending = await deps.db.query<{ n: unknown }>(
      "SELECT count(*) AS n FROM charges WHERE status = 'PENDING'",
    );
    let delivered = 0;
    for (const ch of due) {
      await deps.db.transaction(async (tx: Queryable) => {
        const em = new Emitter(tx, { projectId: ch.project_id, mode: ch.mode === 'live' ? 'live' : 'test' });
        await settleCharge(tx, deps, em, ch.id);
        delivered += em.deliveries;
      });
    }
    if (Number(pending[0]?.n ?? 0) > due.length && !this.stopped) {
      const t = setTimeout(() => this.wake(), deps.settings.asyncSettleDelayMs);
      t.unref();
    }
    if (delivered > 0) this.again = true;
  }

  private async deliver(): Promise<void> {
    const deps = this.deps;
    if (!deps) return;
    for (let round = 0; round < 50 && !this.stopped; round++) {
      // Claim a batch by pushing its next attempt forward: another instance skips claimed rows.
      const rows = await deps.db.query(
        `UPDATE webhook_deliveries SET next_attempt_at = now() + interval '5 minutes'
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'PENDING' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT 20 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
      );
      if (rows.length === 0) return;
      await Promise.all(
        rows.map((r) =>
          attemptDelivery(deps, r, { retry: true }).catch((err) =>
            deps.log.warn('delivery failed', { id: r.id, error: String(err) }),
          ),
        ),
      );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    await this.running;
  }
}

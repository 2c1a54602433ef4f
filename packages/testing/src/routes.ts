/**
 * The routes of the in-memory API (validation per the wire contract, then idempotent application):
 * usage, runs, run events, bulk routes, customers, entitlements, balance, health.
 */

import type { FakeClock } from './clock';
import { defaultCode } from './faults';
import { HttpAnswer, checkQuantity, checkString, error, isRecord, round6, validation } from './http';
import { fingerprint, idempotent } from './idempotency';
import type { ApiState } from './state';
import type { AppliedRun, AppliedRunEvent, AppliedUsage, TestDripOptions } from './test-drip';

/**
 * The router of one in-memory API: `route(method, path, body)` answers a request already authenticated
 * and past its faults.
 */
export function createRouter(
  state: ApiState,
  options: TestDripOptions,
  clock: FakeClock | { now(): number },
): (method: string, path: string, body: unknown) => HttpAnswer {
  const bulk = options.bulk ?? true;

  function usageItem(body: unknown, route: string, routeClass: string, status: number): HttpAnswer {
    if (!isRecord(body)) return validation('body', 'must be an object');
    const hasId = body.customerId !== undefined && body.customerId !== null;
    const hasExt = body.externalCustomerId !== undefined && body.externalCustomerId !== null;
    if (hasId === hasExt) return validation('customerId', 'exactly one of customerId, externalCustomerId');
    const idField = hasId ? 'customerId' : 'externalCustomerId';
    const bad =
      checkString(body[idField], idField, 1, 255, true) ??
      checkString(body.usageType, 'usageType', 1, 100, false) ??
      checkString(body.idempotencyKey, 'idempotencyKey', 1, 128, true) ??
      checkString(body.units, 'units', 0, 50, false) ??
      checkString(body.description, 'description', 0, 500, false);
    if (bad) return bad;
    if (body.metadata !== undefined && body.metadata !== null && !isRecord(body.metadata)) {
      return validation('metadata', 'must be an object');
    }
    const q = checkQuantity(body.quantity);
    if (q instanceof HttpAnswer) return q;
    const customerId = String(body[idField]);
    const missing = state.customerOk(customerId);
    if (missing) return missing;
    return idempotent(state, routeClass, body, () => {
      const record: AppliedUsage = {
        id: state.newId('use'),
        customerId,
        meter: typeof body.usageType === 'string' ? body.usageType : 'generic',
        quantity: q,
        idempotencyKey: String(body.idempotencyKey),
        route,
        units: typeof body.units === 'string' ? body.units : undefined,
        description: typeof body.description === 'string' ? body.description : undefined,
        metadata: isRecord(body.metadata) ? body.metadata : undefined,
        createdAt: clock.now(),
      };
      state.usage.push(record);
      const common = { success: true, usageEventId: record.id, isDuplicate: false };
      if (routeClass === 'usage:sync' || routeClass === 'usage:async') {
        return new HttpAnswer(status, {
          ...common,
          charge: {
            id: state.newId('chg'),
            amountUsdc: (q * 0.001).toFixed(6),
            amountToken: String(Math.round(q * 1000)),
            txHash: null,
            status: 'CONFIRMED',
          },
        });
      }
      return new HttpAnswer(status, {
        ...common,
        customerId,
        usageType: record.meter,
        quantity: q,
        isInternal: false,
        message: 'Usage recorded',
        idempotencyKey: record.idempotencyKey,
        pendingEvents: 0,
      });
    });
  }

  function runEventFields(item: Record<string, unknown>): HttpAnswer | null {
    return (
      checkString(item.eventType, 'eventType', 1, 100, true) ??
      checkString(item.units, 'units', 0, 50, false) ??
      checkString(item.description, 'description', 0, 500, false)
    );
  }

  function recordRun(body: unknown): HttpAnswer {
    if (!isRecord(body)) return validation('body', 'must be an object');
    const bad =
      checkString(body.customerId, 'customerId', 1, 255, true) ??
      checkString(body.workflow, 'workflow', 1, 100, true) ??
      checkString(body.externalRunId, 'externalRunId', 1, 255, false) ??
      checkString(body.correlationId, 'correlationId', 1, 255, false) ??
      checkString(body.idempotencyKey, 'idempotencyKey', 1, 128, false);
    if (bad) return bad;
    if (!['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(String(body.status))) {
      return validation('status', 'must be COMPLETED, FAILED, CANCELLED or TIMEOUT');
    }
    const events = body.events ?? [];
    if (!Array.isArray(events) || events.length > 100)
      return validation('events', 'must be an array of 0-100 items');
    for (let i = 0; i < events.length; i++) {
      const item = events[i];
      if (!isRecord(item)) return validation(`events.${i}`, 'must be an object');
      const e = runEventFields(item);
      if (e) return e;
      const q = checkQuantity(item.quantity, `events.${i}.quantity`);
      if (q instanceof HttpAnswer) return q;
    }
    const customerId = String(body.customerId);
    const missing = state.customerOk(customerId);
    if (missing) return missing;
    const ext = typeof body.externalRunId === 'string' ? body.externalRunId : undefined;
    const fp = fingerprint('run-record', body);
    if (ext !== undefined) {
      const prior = state.runsByExternal.get(ext);
      if (prior) {
        if (prior.fp !== fp) {
          return error(409, 'DUPLICATE_RUN', `Run with externalRunId ${ext} already exists`, {
            existingRunId: prior.run.id,
          });
        }
        return new HttpAnswer(
          prior.status,
          { ...prior.body, isDuplicate: true },
          { 'idempotent-replayed': 'true' },
        );
      }
    }
    return idempotent(state, 'run-record', body, () => {
      const run: AppliedRun = {
        id: state.newId('run'),
        customerId,
        workflow: String(body.workflow),
        status: String(body.status),
        externalRunId: ext,
        correlationId: typeof body.correlationId === 'string' ? body.correlationId : undefined,
        idempotencyKey: typeof body.idempotencyKey === 'string' ? body.idempotencyKey : undefined,
        errorMessage: typeof body.errorMessage === 'string' ? body.errorMessage : undefined,
        errorCode: typeof body.errorCode === 'string' ? body.errorCode : undefined,
        metadata: isRecord(body.metadata) ? body.metadata : undefined,
        startedAt: typeof body.startedAt === 'string' ? body.startedAt : undefined,
        endedAt: typeof body.endedAt === 'string' ? body.endedAt : undefined,
        events: [],
        createdAt: clock.now(),
      };
      for (const item of events as Record<string, unknown>[]) {
        run.events.push({
          ...item,
          id: state.newId('evt'),
          runId: run.id,
          customerId,
          eventType: String(item.eventType),
          quantity: typeof item.quantity === 'number' ? round6(item.quantity) : 1,
        });
      }
      state.runs.push(run);
      let durationMs: number | null = null;
      if (run.startedAt && run.endedAt) durationMs = Date.parse(run.endedAt) - Date.parse(run.startedAt);
      const answerBody = {
        run: {
          id: run.id,
          workflowId: `wf_${run.workflow}`,
          workflowName: run.workflow,
          status: run.status,
          durationMs,
        },
        events: { created: run.events.length, duplicates: 0 },
        totalCostUnits: null,
        summary: `Recorded run with ${run.events.length} events`,
        isDuplicate: false,
      };
      if (ext !== undefined) state.runsByExternal.set(ext, { fp, run, status: 201, body: answerBody });
      return new HttpAnswer(201, answerBody);
    });
  }

  function runEvent(item: unknown, needRun: boolean): HttpAnswer {
    if (!isRecord(item)) return validation('body', 'must be an object');
    const bad =
      runEventFields(item) ??
      checkString(item.idempotencyKey, 'idempotencyKey', 1, 128, needRun) ??
      checkString(item.runId, 'runId', 1, 64, needRun);
    if (bad) return bad;
    const q = checkQuantity(item.quantity);
    if (q instanceof HttpAnswer) return q;
    const run = typeof item.runId === 'string' ? state.runs.find((r) => r.id === item.runId) : undefined;
    if (typeof item.runId === 'string' && !run)
      return error(404, 'RUN_NOT_FOUND', `Run ${item.runId} not found`);
    const customerId = run?.customerId ?? (typeof item.customerId === 'string' ? item.customerId : undefined);
    if (!customerId) return validation('runId', 'runId or customerId is required');
    const missing = state.customerOk(customerId);
    if (missing) return missing;
    return idempotent(state, 'run-event', item, () => {
      const ev: AppliedRunEvent = {
        ...item,
        id: state.newId('evt'),
        runId: run?.id ?? null,
        customerId,
        eventType: String(item.eventType),
        quantity: q,
      };
      state.runEvents.push(ev);
      run?.events.push(ev);
      return new HttpAnswer(201, {
        id: ev.id,
        runId: ev.runId,
        eventType: ev.eventType,
        quantity: q,
        isDuplicate: false,
        timestamp: new Date(clock.now()).toISOString(),
      });
    });
  }

  function bulk_(
    items: unknown,
    max: number,
    path: string,
    one: (item: unknown) => HttpAnswer,
    shape: (a: HttpAnswer) => Record<string, unknown>,
  ): HttpAnswer {
    if (!Array.isArray(items) || items.length < 1 || items.length > max) {
      return validation('events', `must be an array of 1-${max} items`);
    }
    const partials = state.takePartials(path);
    const results = items.map((item, index) => {
      const f = partials.find((p) => p.indexes === undefined || p.indexes.includes(index));
      if (f) {
        return {
          index,
          status: f.status,
          error: { error: 'Injected fault', code: f.code ?? defaultCode(f.status) },
        };
      }
      const a = one(item);
      if (a.status >= 400) return { index, status: a.status, error: a.body };
      return { index, status: a.status, ...shape(a) };
    });
    return new HttpAnswer(200, { results });
  }

  function route(method: string, path: string, body: unknown): HttpAnswer {
    if (method === 'GET' && path === '/health') {
      return new HttpAnswer(200, {
        status: 'healthy',
        timestamp: clock.now(),
        version: 'test',
        server: 'drip-testing',
        capabilities: bulk ? ['usage-bulk', 'runs-record-bulk'] : [],
      });
    }
    if (method !== 'POST' && method !== 'GET') return error(405, 'METHOD_NOT_ALLOWED', 'Method not allowed');
    if (method === 'POST') {
      switch (path) {
        case '/usage':
          return usageItem(body, path, 'usage:sync', 201);
        case '/usage/async':
          return usageItem(body, path, 'usage:async', 202);
        case '/usage/internal':
          return usageItem(body, path, 'usage:internal', 201);
        case '/usage/internal/batch':
          return usageItem(body, path, 'usage:internal-batch', 202);
        case '/runs/record':
          return recordRun(body);
        case '/run-events':
          return runEvent(body, true);
        case '/customers': {
          if (!isRecord(body)) return validation('body', 'must be an object');
          const ext = body.externalCustomerId;
          const bad = checkString(ext, 'externalCustomerId', 1, 255, true);
          if (bad) return bad;
          const id = `cus_${String(ext)}`;
          if (state.customers.has(id)) {
            return error(409, 'DUPLICATE_CUSTOMER', 'Customer exists', { existingCustomerId: id });
          }
          state.customers.add(id);
          return new HttpAnswer(201, { id, externalCustomerId: ext, status: 'ACTIVE', isInternal: false });
        }
        case '/entitlements/check': {
          if (!isRecord(body)) return validation('body', 'must be an object');
          const bad =
            checkString(body.customerId, 'customerId', 1, 255, true) ??
            checkString(body.featureKey, 'featureKey', 1, 100, true);
          if (bad) return bad;
          const q = checkQuantity(body.quantity);
          if (q instanceof HttpAnswer) return q;
          const decide = options.entitlements ?? (() => ({ allowed: true, remaining: -1, limit: -1 }));
          const r = decide(String(body.customerId), String(body.featureKey), q);
          return new HttpAnswer(200, {
            allowed: r.allowed,
            featureKey: body.featureKey,
            remaining: r.remaining ?? -1,
            limit: r.limit ?? -1,
            unlimited: (r.limit ?? -1) === -1,
            period: 'MONTHLY',
            periodResetsAt: new Date(clock.now() + 86_400_000).toISOString(),
            ...(r.allowed ? {} : { reason: r.reason ?? 'LIMIT_REACHED' }),
          });
        }
        case '/run-events/batch': {
          if (
            !isRecord(body) ||
            !Array.isArray(body.events) ||
            body.events.length < 1 ||
            body.events.length > 1000
          ) {
            return validation('events', 'must be an array of 1-1000 items');
          }
          let created = 0;
          let duplicates = 0;
          let skipped = 0;
          const partials = state.takePartials(path);
          /** A batch item the API skipped (refused or faulted), as the batch answer lists it. */
          const skip = (item: unknown, reason: unknown) => {
            skipped++;
            return {
              id: null,
              eventType: isRecord(item) ? item.eventType : null,
              isDuplicate: false,
              skipped: true,
              reason,
            };
          };
          const out = body.events.map((item, index) => {
            const f = partials.find((p) => p.indexes === undefined || p.indexes.includes(index));
            if (f) return skip(item, f.code ?? defaultCode(f.status));
            const a = runEvent(item, false);
            const b = isRecord(a.body) ? a.body : {};
            if (a.status >= 400) return skip(item, b.code);
            if (b.isDuplicate) duplicates++;
            else created++;
            return { id: b.id, eventType: b.eventType, isDuplicate: Boolean(b.isDuplicate) };
          });
          return new HttpAnswer(201, { success: true, created, duplicates, skipped, events: out });
        }
        case '/usage/internal/bulk':
          if (!bulk) break;
          return bulk_(
            isRecord(body) ? body.events : undefined,
            1000,
            path,
            (item) => usageItem(item, path, 'usage:internal', 201),
            (a) => {
              const b = isRecord(a.body) ? a.body : {};
              return { usageEventId: b.usageEventId, isDuplicate: Boolean(b.isDuplicate) };
            },
          );
        case '/runs/record/bulk':
          if (!bulk) break;
          return bulk_(
            isRecord(body) ? body.runs : undefined,
            500,
            path,
            (item) => recordRun(item),
            (a) => {
              const b = isRecord(a.body) ? a.body : {};
              return { run: b.run, isDuplicate: Boolean(b.isDuplicate) };
            },
          );
      }
    }
    if (method === 'GET') {
      const m = /^\/customers\/([^/]+)(\/balance)?$/.exec(path);
      if (m?.[1]) {
        const id = decodeURIComponent(m[1]);
        if (!state.customers.has(id)) return error(404, 'CUSTOMER_NOT_FOUND', `Customer ${id} not found`);
        if (m[2]) {
          return new HttpAnswer(200, {
            customerId: id,
            balanceUsdc: '100.000000',
            pendingChargesUsdc: '0.000000',
            availableUsdc: '100.000000',
          });
        }
        return new HttpAnswer(200, { id, status: 'ACTIVE', isInternal: false });
      }
    }
    return error(404, 'ROUTE_NOT_FOUND', `No route ${method} ${path}`);
  }

  return route;
}

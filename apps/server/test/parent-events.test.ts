// One rule for `parentEventId` on every route that writes run events: the parent must be an event of the
// caller's project and mode. /run-events, /run-events/batch, /runs/record and /runs/record/bulk apply it alike.
import { describe, expect, it } from 'vitest';
import { BACKENDS, type Json, project, useServer } from './helpers';

for (const backend of BACKENDS) {
  describe(`parentEventId is checked on every route (${backend})`, () => {
    const ctx = useServer(backend);

    it('an event of another project, or no event at all, is 404 EVENT_NOT_FOUND and writes nothing', async () => {
      const a = await project(ctx.srv);
      const b = await project(ctx.srv);
      const ca = await a.call('POST', '/customers', { externalCustomerId: 'a' });
      const recA = await a.call('POST', '/runs/record', {
        customerId: ca.body.id,
        workflow: 'wf',
        status: 'COMPLETED',
        events: [{ eventType: 'step' }],
      });
      expect(recA.status).toBe(201);
      const [foreign] = await ctx.srv.store.listRunEvents(String((recA.body.run as Json).id));
      const foreignId = String(foreign?.id);

      const cb = await b.call('POST', '/customers', { externalCustomerId: 'b' });
      const run = await b.call('POST', '/runs', { customerId: cb.body.id, workflowId: 'wf' });
      expect(run.status).toBe(404); // no workflow yet in B
      await b.call('POST', '/workflows', { name: 'WF', slug: 'wf' });
      const runB = await b.call('POST', '/runs', { customerId: cb.body.id, workflowId: 'wf' });
      expect(runB.status).toBe(201);
      const before = await ctx.srv.store.countRows(b.projectId);

      for (const parentEventId of [foreignId, 'evt_doesnotexist']) {
        const single = await b.call('POST', '/run-events', {
          runId: runB.body.id,
          eventType: 'child',
          parentEventId,
          idempotencyKey: `k-${parentEventId}`,
        });
        expect(single.status).toBe(404);
        expect(single.body.code).toBe('EVENT_NOT_FOUND');

        const batch = await b.call('POST', '/run-events/batch', {
          events: [{ runId: runB.body.id, eventType: 'child', parentEventId }],
        });
        expect(batch.status).toBe(201);
        expect(batch.body.events).toEqual([
          expect.objectContaining({ skipped: true, reason: 'EVENT_NOT_FOUND' }),
        ]);

        const rec = await b.call('POST', '/runs/record', {
          customerId: cb.body.id,
          workflow: 'wf',
          status: 'COMPLETED',
          events: [{ eventType: 'ok' }, { eventType: 'child', parentEventId }],
          idempotencyKey: `rec-${parentEventId}`,
        });
        expect(rec.status).toBe(404);
        expect(rec.body.code).toBe('EVENT_NOT_FOUND');

        const bulk = await b.call('POST', '/runs/record/bulk', {
          runs: [
            {
              customerId: cb.body.id,
              workflow: 'wf',
              status: 'COMPLETED',
              events: [{ eventType: 'child', parentEventId }],
            },
            { customerId: cb.body.id, workflow: 'wf', status: 'COMPLETED', events: [{ eventType: 'fine' }] },
          ],
        });
        expect(bulk.status).toBe(200);
        const [bad, good] = bulk.body.results as Json[];
        expect(bad).toMatchObject({ index: 0, status: 404, error: { code: 'EVENT_NOT_FOUND' } });
        expect(good).toMatchObject({ index: 1, status: 201 });
      }
      // Only the two good bulk runs (one event each) were written.
      const after = await ctx.srv.store.countRows(b.projectId);
      expect(after).not.toEqual(before);
      const runs = (await b.call('GET', '/runs?limit=100')).body.data as Json[];
      expect(runs).toHaveLength(3);
      const events = (await b.call('GET', '/events?limit=100')).body.data as Json[];
      expect(events.map((e) => e.eventType).sort()).toEqual(['fine', 'fine']);
      // A's event has no children from B.
      const parent = await a.call('GET', `/events/${foreignId}`);
      expect(parent.body.childEvents).toEqual([]);
    });

    it('a parent of the same project is accepted on every route', async () => {
      const a = await project(ctx.srv);
      const ca = await a.call('POST', '/customers', { externalCustomerId: 'a' });
      const rec = await a.call('POST', '/runs/record', {
        customerId: ca.body.id,
        workflow: 'wf',
        status: 'COMPLETED',
        events: [{ eventType: 'root' }],
      });
      const [root] = await ctx.srv.store.listRunEvents(String((rec.body.run as Json).id));
      const parentEventId = String(root?.id);
      const run = await a.call('POST', '/runs', { customerId: ca.body.id, workflowId: 'wf' });
      const single = await a.call('POST', '/run-events', {
        runId: run.body.id,
        eventType: 'c1',
        parentEventId,
        idempotencyKey: 'p1',
      });
      expect(single.status).toBe(201);
      const batch = await a.call('POST', '/run-events/batch', {
        events: [{ runId: run.body.id, eventType: 'c2', parentEventId }],
      });
      expect(batch.body.created).toBe(1);
      const rec2 = await a.call('POST', '/runs/record', {
        customerId: ca.body.id,
        workflow: 'wf',
        status: 'COMPLETED',
        events: [{ eventType: 'c3', parentEventId }],
      });
      expect(rec2.status).toBe(201);
      const bulk = await a.call('POST', '/runs/record/bulk', {
        runs: [
          {
            customerId: ca.body.id,
            workflow: 'wf',
            status: 'COMPLETED',
            events: [{ eventType: 'c4', parentEventId }],
          },
        ],
      });
      expect((bulk.body.results as Json[])[0]).toMatchObject({ status: 201 });
      const parent = await a.call('GET', `/events/${parentEventId}`);
      expect((parent.body.childEvents as Json[]).map((e) => e.eventType).sort()).toEqual([
        'c1',
        'c2',
        'c3',
        'c4',
      ]);
    });
  });
}

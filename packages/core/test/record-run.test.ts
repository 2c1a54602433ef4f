import { describe, expect, it } from 'vitest';
import { DripConflictError } from '../src/errors';
import { makeClient, type Captured, type Reply } from './helpers';

const NOW = '2026-03-01T12:00:00.000Z';
const recordOk = {
  status: 201,
  body: {
    run: { id: 'run_1', workflowId: 'wf_1', workflowName: 'W', status: 'COMPLETED', durationMs: 1 },
    events: { created: 1, duplicates: 0 },
    summary: 'ok',
  },
};

function stepServer(opts: { failBatch?: boolean; workflows?: unknown[] } = {}) {
  return (req: Captured): Reply => {
    const route = `${req.method} ${req.path}`;
    if (route === 'POST /v1/runs/record')
      return { status: 404, body: { error: 'Not found', code: 'ROUTE_NOT_FOUND' } };
    if (route === 'GET /v1/workflows') return { status: 200, body: { data: opts.workflows ?? [], count: 0 } };
    if (route === 'POST /v1/workflows')
      return {
        status: 201,
        body: { id: 'wf_9', name: 'My Flow', slug: 'my-flow', isActive: true, createdAt: NOW },
      };
    if (route === 'POST /v1/runs')
      return {
        status: 201,
        body: { id: 'run_9', customerId: 'cus_1', workflowId: 'wf_9', status: 'PENDING', createdAt: NOW },
      };
    if (route === 'POST /v1/run-events/batch') {
      if (opts.failBatch) return { status: 422, body: { error: 'bad', code: 'VALIDATION_ERROR' } };
      const n = (req.body as { events: unknown[] }).events.length;
      return {
        status: 201,
        body: {
          success: true,
          created: n,
          duplicates: 0,
          skipped: 0,
          events: Array.from({ length: n }, (_, i) => ({
            id: `evt_${i}`,
            eventType: 'x',
            isDuplicate: false,
          })),
        },
      };
    }
    if (route === 'PATCH /v1/runs/run_9')
      return {
        status: 200,
        body: {
          id: 'run_9',
          status: (req.body as { status: string }).status,
          endedAt: NOW,
          eventCount: 2,
          durationMs: 3,
          totalCostUnits: '0',
        },
      };
    return { status: 500, body: { error: 'unexpected', code: 'X' } };
  };
}

describe('recordRun (spec §5.5)', () => {
  it('falls back step by step on a route-missing 404: workflow by slug (created), run, batch with derived keys, end', async () => {
    const { client, calls } = makeClient(stepServer());
    const res = await client.recordRun({
      customerId: 'cus_1',
      workflow: 'my-flow',
      status: 'COMPLETED',
      externalRunId: 'ext-1',
      events: [
        { eventType: 'llm.call', model: 'gpt-4' },
        { eventType: 'tool.call', name: 'search' },
      ],
    });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/runs/record',
      'GET /v1/workflows',
      'POST /v1/workflows',
      'POST /v1/runs',
      'POST /v1/run-events/batch',
      'PATCH /v1/runs/run_9',
    ]);
    expect(calls[2]!.body).toEqual({ name: 'My Flow', slug: 'my-flow', productSurface: 'CUSTOM' });
    expect((calls[3]!.body as { externalRunId: string }).externalRunId).toBe('ext-1');
    expect((calls[4]!.body as { events: unknown[] }).events).toEqual([
      { eventType: 'llm.call', model: 'gpt-4', runId: 'run_9', idempotencyKey: 'ext-1:0' },
      { eventType: 'tool.call', name: 'search', runId: 'run_9', idempotencyKey: 'ext-1:1' },
    ]);
    expect(res).toMatchObject({
      run: { id: 'run_9', workflowId: 'wf_9', status: 'COMPLETED' },
      events: { created: 2, duplicates: 0 },
    });
  });

  it('does not fall back on a resource 404 (CUSTOMER_NOT_FOUND)', async () => {
    const { client, calls } = makeClient([
      { status: 404, body: { error: 'nf', code: 'CUSTOMER_NOT_FOUND' } },
    ]);
    await expect(
      client.recordRun({ customerId: 'cus_x', workflow: 'w', status: 'COMPLETED' }),
    ).rejects.toMatchObject({ code: 'CUSTOMER_NOT_FOUND' });
    expect(calls).toHaveLength(1);
  });

  it('a failure after POST /runs ends the run FAILED with RECORD_INCOMPLETE and rethrows', async () => {
    const { client, calls } = makeClient(
      stepServer({ failBatch: true, workflows: [{ id: 'wf_9', slug: 'my-flow', name: 'F' }] }),
    );
    await expect(
      client.recordRun({
        customerId: 'cus_1',
        workflow: 'my-flow',
        status: 'COMPLETED',
        events: [{ eventType: 'x' }],
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    const last = calls.at(-1)!;
    expect(`${last.method} ${last.path}`).toBe('PATCH /v1/runs/run_9');
    expect(last.body).toMatchObject({ status: 'FAILED', errorCode: 'RECORD_INCOMPLETE' });
  });

  it('an unknown workflow that is not a valid slug fails validation in the fallback', async () => {
    const { client } = makeClient(stepServer());
    await expect(
      client.recordRun({ customerId: 'cus_1', workflow: 'Not A Slug', status: 'COMPLETED' }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
  });

  it('more than 100 events take the step-by-step path directly', async () => {
    const { client, calls } = makeClient(
      stepServer({ workflows: [{ id: 'wf_9', slug: 'my-flow', name: 'F' }] }),
    );
    const events = Array.from({ length: 101 }, () => ({ eventType: 'x' }));
    await client.recordRun({ customerId: 'cus_1', workflow: 'wf_9', status: 'COMPLETED', events });
    expect(calls.some((c) => c.path === '/v1/runs/record')).toBe(false);
    expect(
      (calls.find((c) => c.path === '/v1/run-events/batch')!.body as { events: unknown[] }).events,
    ).toHaveLength(101);
  });

  it('409 DUPLICATE_RUN on a retry: existingRunId → stored run with isDuplicate', async () => {
    const { client, clock } = makeClient([
      'network-error',
      { status: 409, body: { error: 'dup', code: 'DUPLICATE_RUN', existingRunId: 'run_5' } },
      {
        status: 200,
        body: {
          id: 'run_5',
          customerId: 'cus_1',
          workflowId: 'wf_1',
          workflowName: 'W',
          status: 'COMPLETED',
          durationMs: 4,
        },
      },
    ]);
    const res = await clock.run(
      client.recordRun({ customerId: 'cus_1', workflow: 'w', status: 'COMPLETED' }),
    );
    expect(res).toMatchObject({ run: { id: 'run_5', status: 'COMPLETED' }, isDuplicate: true });
  });

  it('409 DUPLICATE_RUN on a retry without existingRunId: DripConflictError with data.alreadyRecorded', async () => {
    const { client, clock } = makeClient([
      'network-error',
      { status: 409, body: { error: 'dup', code: 'DUPLICATE_RUN' } },
    ]);
    const e = await clock
      .run(client.recordRun({ customerId: 'cus_1', workflow: 'w', status: 'COMPLETED' }))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DripConflictError);
    expect((e as DripConflictError).data).toMatchObject({ alreadyRecorded: true });
  });

  it('success path sends one request with externalRunId and idempotencyKey', async () => {
    const { client, calls } = makeClient([recordOk]);
    await client.recordRun({
      customerId: 'cus_1',
      workflow: 'w',
      status: 'COMPLETED',
      externalRunId: 'mine',
      idempotencyKey: 'k',
    });
    expect(calls[0]!.body).toEqual({
      customerId: 'cus_1',
      workflow: 'w',
      status: 'COMPLETED',
      events: [],
      externalRunId: 'mine',
      idempotencyKey: 'k',
    });
  });
});

describe('emitEventsBatch chunking (spec §9 row 11)', () => {
  it('splits at 500 items, keys assigned before chunking, results merged in order', async () => {
    const { client, calls } = makeClient((req) => {
      const evs = (req.body as { events: Array<{ idempotencyKey: string }> }).events;
      return {
        status: 201,
        body: {
          success: true,
          created: evs.length,
          duplicates: 0,
          skipped: 0,
          events: evs.map((e) => ({ id: e.idempotencyKey, eventType: 'x', isDuplicate: false })),
        },
      };
    });
    const items = Array.from({ length: 1201 }, (_, i) => ({ runId: 'run_1', eventType: 'x', seq: i }));
    const res = await client.emitEventsBatch(items);
    expect(calls.map((c) => (c.body as { events: unknown[] }).events.length)).toEqual([500, 500, 201]);
    expect(res.created).toBe(1201);
    expect(res.events.map((e) => e.id)).toEqual(
      Array.from({ length: 1201 }, (_, i) => `evt_testinst_${(i + 1).toString(36)}`),
    );
  });
  it('splits by size at 512 KiB', async () => {
    const { client, calls } = makeClient((req) => {
      const evs = (req.body as { events: unknown[] }).events;
      return {
        status: 201,
        body: {
          success: true,
          created: evs.length,
          duplicates: 0,
          skipped: 0,
          events: evs.map(() => ({ id: 'e', eventType: 'x', isDuplicate: false })),
        },
      };
    });
    const big = 'x'.repeat(10_000);
    await client.emitEventsBatch(
      Array.from({ length: 120 }, () => ({
        runId: 'r',
        eventType: 'x',
        description: undefined,
        blob: big.slice(0, 10_000),
      })),
    );
    for (const c of calls)
      expect(new TextEncoder().encode(JSON.stringify(c.body)).length).toBeLessThanOrEqual(512 * 1024 + 64);
    expect(calls.length).toBeGreaterThan(1);
  });
});

/**
 * `recordRun` (spec §5.5): a finished run in one `POST /runs/record`, with the step-by-step fallback for
 * servers without the route and for runs of more than {@link RECORD_RUN_MAX_EVENTS} events.
 */

import { DripConflictError, isDripError, isRecord, validationError } from '../errors';
import { runEventKey } from '../keys';
import type { BatchEventItem, RecordRunParams, RecordRunResult, ResponseMeta } from '../types';
import { SLUG_PATTERN, check, assertValid } from '../validation';
import { type RequestExecutor, RETRY_OPTION_KEYS, callOptions, wireFields } from './executor';
import { findWorkflow } from './pagination';
import { RUN, extend, getResponseMeta, shaped } from './response';
import { END_STATUS, ERROR_FIELDS, ID, NAME, RECORD_EVENT, RECORD_RUN_MAX_EVENTS, TEXT_255 } from './rules';
import { idempotencyKey as KEY, metadata } from '../validation';
import type { Drip } from '../client';

/** What `recordRun` needs of the client: its executor, its key generator, and its public methods. */
export interface RecordRunDeps {
  executor: RequestExecutor;
  nextKey: (prefix: string) => string;
  client: Pick<
    Drip,
    'getRun' | 'createWorkflow' | 'startRun' | 'emitEventsBatch' | 'endRun' | 'listAllWorkflows'
  >;
}

function titleCase(slug: string): string {
  return slug
    .split(/[-_]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/**
 * Records a finished run in one call (`POST /runs/record`, spec §5.5). Always sends an `externalRunId`
 * and an `idempotencyKey`. Servers without the route (a 404 without a resource code) get the
 * step-by-step fallback, as do runs with more than 100 events; a failure part-way ends the run
 * `FAILED` with `errorCode: "RECORD_INCOMPLETE"` and rethrows.
 *
 * @example
 * ```ts
 * await client.recordRun({ customerId: 'cus_1', workflow: 'summarise', status: 'COMPLETED',
 *   events: [{ eventType: 'llm.call', model: 'gpt-4', inputTokens: 500, outputTokens: 1200 }] });
 * ```
 */
export async function recordRun(deps: RecordRunDeps, params: RecordRunParams): Promise<RecordRunResult> {
  const problems = check([], params, {
    customerId: ID,
    workflow: ID,
    status: END_STATUS,
    ...ERROR_FIELDS,
    externalRunId: NAME,
    correlationId: TEXT_255,
    metadata,
    idempotencyKey: KEY,
  });
  const list = params.events ?? [];
  if (!Array.isArray(list)) problems.push({ path: 'events', message: 'must be an array' });
  else {
    list.forEach((e, i) => {
      check(problems, e, RECORD_EVENT, `events.${i}.`);
    });
  }
  assertValid(problems);
  const externalRunId = params.externalRunId ?? deps.nextKey('run');
  const idempotencyKey = params.idempotencyKey ?? deps.nextKey('rec');
  const events = list.map((e) => wireFields(e, undefined, RETRY_OPTION_KEYS));
  if (events.length > RECORD_RUN_MAX_EVENTS) return recordRunStepwise(deps, params, externalRunId, events);
  const body = { ...wireFields(params, 'events'), events, externalRunId, idempotencyKey };
  try {
    const d = await deps.executor.sendChecked<RecordRunResult>(
      'POST',
      '/runs/record',
      { ...callOptions(params), body },
      { run: 'object' },
    );
    shaped(getResponseMeta(d) as ResponseMeta, d.run, RUN, 'POST /runs/record: run');
    return extend(d, { events: d.events ?? { created: 0, duplicates: 0 } });
  } catch (err) {
    if (!isDripError(err)) throw err;
    if (err.statusCode === 404 && ['ROUTE_NOT_FOUND', 'NOT_FOUND', 'INVALID_RESPONSE'].includes(err.code)) {
      return recordRunStepwise(deps, params, externalRunId, events);
    }
    if (err instanceof DripConflictError && err.code === 'DUPLICATE_RUN' && err.attempts > 1) {
      if (err.existingId) {
        const run = await deps.client.getRun(err.existingId, callOptions(params));
        return {
          run: {
            id: run.id,
            workflowId: run.workflowId,
            workflowName: run.workflowName,
            status: run.status,
            durationMs: run.durationMs ?? null,
          },
          events: { created: 0, duplicates: events.length },
          totalCostUnits: run.totals?.totalCostUnits ?? null,
          summary: 'Run already recorded by an earlier attempt',
          isDuplicate: true,
        };
      }
      throw new DripConflictError(
        err.message,
        'DUPLICATE_RUN',
        { ...(isRecord(err.data) ? err.data : {}), alreadyRecorded: true },
        err.requestId,
        err,
      );
    }
    throw err;
  }
}

/**
 * The §5.5 fallback: find or create the workflow, start the run (same `externalRunId`), emit the events
 * with keys derived from the run and their index, end the run; a failure part-way ends it `FAILED` with
 * `errorCode: "RECORD_INCOMPLETE"` and rethrows.
 */
async function recordRunStepwise(
  deps: RecordRunDeps,
  params: RecordRunParams,
  externalRunId: string,
  events: Record<string, unknown>[],
): Promise<RecordRunResult> {
  const opts = callOptions(params);
  let workflow = await findWorkflow(deps.client, params.workflow, opts);
  if (!workflow) {
    if (!SLUG_PATTERN.test(params.workflow)) {
      throw validationError([
        {
          path: 'workflow',
          message: 'no workflow has this id, and it is not a slug of 1-100 [a-z0-9_-]',
        },
      ]);
    }
    workflow = await deps.client.createWorkflow({
      name: titleCase(params.workflow) || params.workflow,
      slug: params.workflow,
      productSurface: 'CUSTOM',
      ...opts,
    });
  }
  const run = await deps.client.startRun({
    customerId: params.customerId,
    workflowId: workflow.id,
    externalRunId,
    correlationId: params.correlationId,
    metadata: params.metadata,
    ...opts,
  });
  try {
    let created = 0;
    let duplicates = 0;
    if (events.length > 0) {
      const keys = events.map((_, i) => runEventKey(externalRunId, i));
      const batch = await deps.client.emitEventsBatch(
        events.map((e, i) => ({ ...(e as BatchEventItem), runId: run.id, idempotencyKey: keys[i] })),
        opts,
      );
      created = batch.created;
      duplicates = batch.duplicates;
    }
    const ended = await deps.client.endRun(run.id, {
      status: params.status,
      errorMessage: params.errorMessage,
      errorCode: params.errorCode,
      ...opts,
    });
    return {
      run: {
        id: run.id,
        workflowId: workflow.id,
        workflowName: workflow.name,
        status: ended.status,
        durationMs: ended.durationMs ?? null,
      },
      events: { created, duplicates },
      totalCostUnits: ended.totalCostUnits ?? null,
      summary: `Recorded run with ${created} events (step by step)`,
    };
  } catch (err) {
    try {
      await deps.client.endRun(run.id, {
        status: 'FAILED',
        errorCode: 'RECORD_INCOMPLETE',
        errorMessage: err instanceof Error ? err.message.slice(0, 2000) : 'recordRun failed part-way',
        ...opts,
      });
    } catch {
      // Best effort: the original error is what the caller needs.
    }
    throw err;
  }
}

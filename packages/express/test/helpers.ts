import type { AppliedRun } from '@drip/testing';

/** The route template the pipeline recorded on a run (in its metadata). */
export function routeOf(run: AppliedRun): unknown {
  return run.metadata?.route;
}

/**
 * The one definition of how a metered request ended and what it bills, used by every adapter and
 * runtime (adapters only report what they observed through the adapter kit; they decide nothing):
 *
 * - **ended**: the response is over, i.e. its last byte was handed to the client, or its body (a stream)
 *   was read to the end; a thrown handler or a failed body stream also ends it, with an `error`;
 * - **aborted**: the client went away before that (connection closed, body stream cancelled);
 * - **bills**: `billOn` decides from the status and `aborted` (default: 2xx and 3xx bill; 4xx, 5xx and
 *   aborted requests do not). The default meter and the usage a handler adds with `usage()` follow the
 *   same decision, unless a `usage()` call says `{ billOn: 'always' }`;
 * - **run status**: `CANCELLED` when aborted, `FAILED` on a 5xx status or an error, else `COMPLETED`.
 */

import type { BillOn } from './options';
import type { RequestOutcome } from './types';

/**
 * Whether a `usage()` call follows the request's outcome (`'outcome'`, the default: billed exactly when
 * the default meter is, by `billOn`) or is billed however the request ends (`'always'`, e.g. tokens an
 * upstream model already charged for before the client went away).
 *
 * @example
 * ```ts
 * req.drip?.usage('llm_tokens', 812, { billOn: 'always' });
 * ```
 */
export type UsageBillOn = 'outcome' | 'always';

/**
 * Options of a `usage()` call.
 *
 * @example
 * ```ts
 * const options: UsageOptions = { billOn: 'always' };
 * req.drip?.usage('llm_tokens', 812, options);
 * ```
 */
export interface UsageOptions {
  /** Default `'outcome'`: billed when the request's outcome bills (see `billOn`). */
  billOn?: UsageBillOn | undefined;
}

/**
 * The status a request ended with: the reported one, or 500 when the adapter could not tell (a
 * thrown handler whose status nobody wrote).
 *
 * @example
 * ```ts
 * outcomeStatus({ status: 404 }); // 404
 * ```
 */
export function outcomeStatus(outcome: RequestOutcome | undefined): number {
  return typeof outcome?.status === 'number' ? outcome.status : 500;
}

/**
 * Whether the outcome bills under `billOn`. A `billOn` function that throws counts as "does not bill";
 * the caller reports the error.
 *
 * @example
 * ```ts
 * billsOutcome(undefined, { status: 200 }); // true
 * billsOutcome(undefined, { status: 200, aborted: true }); // false
 * billsOutcome({ serverError: true }, { status: 503 }); // true
 * ```
 */
export function billsOutcome(billOn: BillOn | undefined, outcome: RequestOutcome): boolean {
  if (typeof billOn === 'function') return billOn(outcome) === true;
  if (outcome.aborted === true) return billOn?.aborted === true;
  const status = outcomeStatus(outcome);
  if (status >= 200 && status < 300) return billOn?.success !== false;
  if (status >= 300 && status < 400) return billOn?.redirect !== false;
  if (status >= 400 && status < 500) return billOn?.clientError === true;
  if (status >= 500) return billOn?.serverError === true;
  return false;
}

/**
 * The run status of an outcome: `CANCELLED` when aborted, `FAILED` on a 5xx or an error, else `COMPLETED`.
 *
 * @example
 * ```ts
 * runStatusOf({ status: 200 }); // 'COMPLETED'
 * runStatusOf({ status: 200, aborted: true }); // 'CANCELLED'
 * runStatusOf({ status: 200, error: new Error('stream failed') }); // 'FAILED'
 * ```
 */
export function runStatusOf(outcome: RequestOutcome): 'COMPLETED' | 'FAILED' | 'CANCELLED' {
  if (outcome.aborted === true) return 'CANCELLED';
  const error = outcome.error;
  return outcomeStatus(outcome) >= 500 || (error !== undefined && error !== null) ? 'FAILED' : 'COMPLETED';
}

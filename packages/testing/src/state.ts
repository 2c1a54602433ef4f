/**
 * What the in-memory API holds: applied usage, runs and run events, received requests, active faults,
 * the idempotency store, known customers, and the id sequence. `reset()` forgets all of it.
 */

import { type ActiveFault, type Fault, isSpent, routeMatches } from './faults';
import { type HttpAnswer, error } from './http';
import type { AppliedRun, AppliedRunEvent, AppliedUsage, ReceivedRequest } from './test-drip';

/** An answer stored under an idempotency key, with the fingerprint of the request that made it. */
export interface StoredAnswer {
  fp: string;
  status: number;
  body: Record<string, unknown>;
}

/** The mutable state of one in-memory API. */
export class ApiState {
  usage: AppliedUsage[] = [];
  runs: AppliedRun[] = [];
  runEvents: AppliedRunEvent[] = [];
  requests: ReceivedRequest[] = [];
  faults: ActiveFault[] = [];
  /** Answers by idempotency key (spec §5.1). */
  idempotency = new Map<string, StoredAnswer>();
  /** Recorded runs by `externalRunId`, for `DUPLICATE_RUN` and replays of `POST /runs/record`. */
  runsByExternal = new Map<string, StoredAnswer & { run: AppliedRun }>();
  customers: Set<string>;
  /** Last number used for generated ids and request ids. */
  sequence = 0;
  readonly #initialCustomers: readonly string[];
  readonly #autoCreateCustomers: boolean;

  constructor(initialCustomers: readonly string[], autoCreateCustomers: boolean) {
    this.#initialCustomers = initialCustomers;
    this.#autoCreateCustomers = autoCreateCustomers;
    this.customers = new Set(initialCustomers);
  }

  /** A new id `<prefix>_<24 base-36 digits>`. */
  newId(prefix: string): string {
    return `${prefix}_${(++this.sequence).toString(36).padStart(24, '0')}`;
  }

  /** `null` when the customer exists (or is created now), else the 404 answer. */
  customerOk(id: string): HttpAnswer | null {
    if (this.customers.has(id)) return null;
    if (this.#autoCreateCustomers) {
      this.customers.add(id);
      return null;
    }
    return error(404, 'CUSTOMER_NOT_FOUND', `Customer ${id} not found`);
  }

  takeFault(path: string, method: string, types: Fault['type'][]): ActiveFault | undefined {
    for (const f of this.faults) {
      if (isSpent(f) || !types.includes(f.fault.type)) continue;
      if (!routeMatches(f.fault.route, path, method)) continue;
      f.hits++;
      return f;
    }
    return undefined;
  }

  /** Every active partial fault of a bulk or batch route applies to one request (each uses one of its `times`). */
  takePartials(path: string): Array<Fault & { type: 'partial' }> {
    const out: Array<Fault & { type: 'partial' }> = [];
    for (const f of this.faults) {
      if (isSpent(f) || f.fault.type !== 'partial' || !routeMatches(f.fault.route, path, 'POST')) continue;
      f.hits++;
      out.push(f.fault);
    }
    return out;
  }

  /** Forgets everything applied and every fault. */
  reset(): void {
    this.usage = [];
    this.runs = [];
    this.runEvents = [];
    this.requests = [];
    this.faults = [];
    this.idempotency = new Map();
    this.runsByExternal = new Map();
    this.customers = new Set(this.#initialCustomers);
  }
}

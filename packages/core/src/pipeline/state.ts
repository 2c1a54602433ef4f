/** What every request of one request meter shares: options, compiled routes, outbox, counters, reporting. */

import type { Outbox } from '../outbox/outbox';
import type {
  CustomerResolver,
  MeteringErrorInfo,
  PipelineStats,
  RequestMeterOptions,
  RouteRule,
} from './options';
import type { CompiledRoute } from './route';

/** Per (method, route) values shared by every request of that route. */
export interface RouteInfo {
  method: string;
  route: string;
  /** Default metadata `{ method, route }`, frozen (shared by every record). */
  meta: Readonly<Record<string, unknown>>;
  /** Workflow slug, computed on first use. */
  slug: string | undefined;
  /** Default run metadata `{ method, route, status }` per status, frozen. */
  byStatus: Map<number, Readonly<Record<string, unknown>>> | undefined;
}

/** The shared state of one request meter (one per `createRequestMeter()` call). */
export interface MeterState<Req> {
  options: RequestMeterOptions<Req>;
  resolvers: CustomerResolver<Req>[];
  routes: CompiledRoute<RouteRule<Req>>[];
  outbox: Outbox;
  stats: PipelineStats;
  /** Requests begun and not ended yet (the shutdown hook waits for them on a signal). */
  open: number;
  warned: Set<string>;
  /** Counts a metering error, logs it once per phase and passes it to `onError`; never throws. */
  error(err: unknown, phase: MeteringErrorInfo['phase']): void;
  warnOnce(key: string, message: string): void;
  /** Whether a run is recorded by default (`run` option). */
  recordRuns: boolean;
  /** Whether `handle.run(fn)` opens the request scope (`asyncContext` option). */
  asyncContext: boolean;
  defaultMeter: string;
  redact: Array<string | RegExp>;
  metaHeaders: string[];
  now(): number;
  /** The cached values of a route (routes are few; the cache is bounded anyway). */
  routeInfo(method: string, route: string): RouteInfo;
}

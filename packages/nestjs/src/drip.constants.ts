/**
 * Injection token of the options given to `DripModule.forRoot()` / `forRootAsync()`.
 *
 * @example
 * ```ts
 * constructor(@Inject(DRIP_OPTIONS) private readonly options: DripNestOptions) {}
 * ```
 */
export const DRIP_OPTIONS = 'DRIP_MODULE_OPTIONS';

/**
 * Injection token of the module's request meter (its outbox, client and `stats()`), e.g. for a health
 * check or a manual `flush()`.
 *
 * @example
 * ```ts
 * constructor(@Inject(DRIP_REQUEST_METER) private readonly meter: RequestMeter) {}
 * health() { return this.meter.stats(); }
 * ```
 */
export const DRIP_REQUEST_METER = 'DRIP_REQUEST_METER';

/** Metadata keys of the decorators (registry symbols, so duplicate package copies agree). */
export const SKIP_DRIP_KEY = Symbol.for('@drip/nestjs.skip');
export const DRIP_METER_KEY = Symbol.for('@drip/nestjs.meter');
/** Where the interceptor keeps the request context on the request object. */
export const DRIP_STATE_KEY = Symbol.for('@drip/nestjs.state');

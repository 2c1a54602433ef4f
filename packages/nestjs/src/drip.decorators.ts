import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { DripRequestContext } from '@drip/core';
import { DRIP_METER_KEY, DRIP_STATE_KEY, SKIP_DRIP_KEY } from './drip.constants';

/**
 * What `@DripMeter()` stores on a handler or controller.
 *
 * @example
 * ```ts
 * const rule = reflector.get<DripMeterRule>(Symbol.for('@drip/nestjs.meter'), handler); // { meter, quantity }
 * ```
 */
export interface DripMeterRule {
  meter: string;
  quantity?: number | undefined;
}

/**
 * Bills requests to this handler (or every handler of this controller) to `meter`, `quantity` units each
 * (default 1), in place of the module's `meter`/`quantity` and `routes` table. A handler's decorator
 * wins over its controller's.
 *
 * @example
 * ```ts
 * @Controller('items')
 * @UseInterceptors(DripInterceptor)
 * @DripMeter('api_calls')
 * export class ItemsController {
 *   @Post('search') @DripMeter('searches', 5) search() { ... }
 * }
 * ```
 */
export function DripMeter(meter: string, quantity?: number): ClassDecorator & MethodDecorator {
  const rule: DripMeterRule = quantity === undefined ? { meter } : { meter, quantity };
  return SetMetadata(DRIP_METER_KEY, rule);
}

/**
 * Leaves this handler (or controller) unmetered: no usage, no run, no customer lookup.
 *
 * @example
 * ```ts
 * @Get('health') @SkipDrip() health() { return { ok: true }; }
 * ```
 */
export function SkipDrip(): ClassDecorator & MethodDecorator {
  return SetMetadata(SKIP_DRIP_KEY, true);
}

/** The request context the interceptor attached, if it metered this request. */
export function dripContextOf(request: unknown): DripRequestContext | undefined {
  if (typeof request !== 'object' || request === null) return undefined;
  return (request as { [DRIP_STATE_KEY]?: DripRequestContext })[DRIP_STATE_KEY];
}

/**
 * Parameter decorator: the request's Drip context (`run.event()`, `usage()`, `customerId`), or
 * `undefined` when the request is not metered (skipped, or no customer under the `skip` policy).
 *
 * @example
 * ```ts
 * @Post('agent')
 * agent(@Body() body: { prompt: string }, @DripRun() drip?: DripRequestContext) {
 *   drip?.run.event({ eventType: 'llm.call', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 20 });
 *   drip?.usage('llm_tokens', 30);
 * }
 * ```
 */
export const DripRun: () => ParameterDecorator = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): DripRequestContext | undefined =>
    dripContextOf(ctx.getArgByIndex(0)),
);

/**
 * Parameter decorator: the Drip customer id the request is billed to, or `undefined` when it is not
 * metered.
 *
 * @example
 * ```ts
 * @Get('me') me(@DripCustomer() customerId?: string) { return { customerId }; }
 * ```
 */
export const DripCustomer: () => ParameterDecorator = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): string | undefined =>
    dripContextOf(ctx.getArgByIndex(0))?.customerId,
);

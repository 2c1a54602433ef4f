import {
  type BeginResult,
  type DripRequestContext,
  isPromiseLike,
  type RequestMeter,
  type RequestView,
} from '@drip/core';
import {
  type CallHandler,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type Observable, tap } from 'rxjs';
import { DRIP_METER_KEY, DRIP_REQUEST_METER, DRIP_STATE_KEY, SKIP_DRIP_KEY } from './drip.constants';
import type { DripMeterRule } from './drip.decorators';

/**
 * The request object the interceptor reads, on both platforms (Express `Request`, Fastify
 * `FastifyRequest`). `user` is where your auth guard or Passport strategy puts the caller; the pipeline's
 * default customer chain reads `user.customerId`.
 *
 * @example
 * ```ts
 * DripModule.forRoot({ customer: (req: DripHttpRequest) => req.headers['x-customer-id'] as string });
 * ```
 */
export interface DripHttpRequest {
  method: string;
  url: string;
  originalUrl?: string;
  headers: Record<string, string | string[] | undefined>;
  user?: unknown;
}

interface NodeResponseLike {
  statusCode: number;
  writableFinished?: boolean;
  once(event: 'close', listener: () => void): unknown;
  setHeader(name: string, value: string): unknown;
}

type Marked = { [SEEN]?: true; [DRIP_STATE_KEY]?: DripRequestContext };
const SEEN = Symbol.for('@drip/nestjs.seen');

/**
 * Meters each HTTP request a controller handles, per customer, and wraps the handler in a run. Use it
 * per controller or route (`@UseInterceptors(DripInterceptor)`) or for the whole app by registering
 * `{ provide: APP_INTERCEPTOR, useClass: DripInterceptor }`; registered twice, it meters once. Needs
 * `DripModule.forRoot()` (or `forRootAsync()`) in the app. Non-HTTP contexts (microservices, websockets,
 * GraphQL resolvers) pass through unmetered.
 *
 * The outcome comes from the handler's observable (the error, if any) and from the status the response
 * was sent with, so Nest's exception layer decides the status: an `HttpException` keeps its own, other
 * errors become 500. A client that disconnects first gives an aborted outcome.
 *
 * @example
 * ```ts
 * @Controller('items')
 * @UseInterceptors(DripInterceptor)
 * @DripMeter('api_calls')
 * export class ItemsController {
 *   @Get(':id') get(@Param('id') id: string, @DripRun() drip?: DripRequestContext) {
 *     drip?.run.event({ eventType: 'db.lookup' });
 *     return { id };
 *   }
 * }
 * ```
 */
@Injectable()
export class DripInterceptor implements NestInterceptor {
  constructor(
    @Inject(DRIP_REQUEST_METER) private readonly meter: RequestMeter,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  intercept(
    context: ExecutionContext,
    next: CallHandler,
  ): Observable<unknown> | Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<DripHttpRequest & Marked>();
    if (req[SEEN]) return next.handle();
    req[SEEN] = true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(SKIP_DRIP_KEY, targets) === true) {
      return next.handle();
    }
    const rule = this.reflector.getAllAndOverride<DripMeterRule | undefined>(DRIP_METER_KEY, targets);
    const reply = http.getResponse<NodeResponseLike & { raw?: NodeResponseLike; header?: unknown }>();
    let begun: BeginResult | PromiseLike<BeginResult>;
    try {
      begun = this.meter.begin(requestView(req, rule));
    } catch {
      // The pipeline never throws by contract; if it ever does, the request goes on unmetered.
      return next.handle();
    }
    if (isPromiseLike(begun)) {
      return Promise.resolve(begun).then(
        (result) => proceed(result, req, reply, next),
        () => next.handle(),
      );
    }
    return proceed(begun, req, reply, next);
  }
}

function requestView(req: DripHttpRequest, rule: DripMeterRule | undefined): RequestView<DripHttpRequest> {
  const url = req.originalUrl ?? req.url;
  const q = url.indexOf('?');
  return {
    method: req.method.toUpperCase(),
    path: q === -1 ? url : url.slice(0, q),
    route: routeOf(req),
    header: (name) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    user: req.user,
    raw: req,
    rule,
  };
}

/** The matched route template: Express `req.route.path`, Fastify `request.routeOptions.url`. */
function routeOf(req: DripHttpRequest): string | undefined {
  const express = (req as { route?: { path?: unknown }; baseUrl?: unknown }).route?.path;
  if (typeof express === 'string') {
    const base = (req as { baseUrl?: unknown }).baseUrl;
    return typeof base === 'string' && base !== '' ? base + (express === '/' ? '' : express) : express;
  }
  const fastify = (req as { routeOptions?: { url?: unknown } }).routeOptions?.url;
  return typeof fastify === 'string' ? fastify : undefined;
}

function proceed(
  result: BeginResult,
  req: DripHttpRequest & Marked,
  reply: NodeResponseLike & { raw?: NodeResponseLike; header?: unknown },
  next: CallHandler,
): Observable<unknown> {
  if (result.kind === 'skip') return next.handle();
  if (result.kind === 'respond') {
    // Gate refusal or the `reject` policy: the pipeline decided the answer; Nest's exception layer sends it.
    for (const [name, value] of Object.entries(result.headers)) {
      if (typeof reply.header === 'function')
        (reply.header as (n: string, v: string) => unknown)(name, value);
      else reply.setHeader(name, value);
    }
    throw new HttpException(result.body as Record<string, unknown>, result.status);
  }
  const { handle, context } = result;
  req[DRIP_STATE_KEY] = context;
  const raw = reply.raw ?? reply;
  let error: unknown;
  // `close` follows the end of a sent response and comes alone when the client left first; by then
  // Nest's exception layer has written the status.
  raw.once('close', () => {
    handle.finish({ status: raw.statusCode, error, aborted: raw.writableFinished === false });
  });
  // `next.handle()` binds the handler to the async context it is called in: the request scope.
  return handle
    .run(() => next.handle())
    .pipe(
      tap({
        error: (e: unknown) => {
          error = e;
        },
      }),
    );
}

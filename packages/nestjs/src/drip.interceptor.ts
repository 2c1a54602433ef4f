import {
  type BeginResult,
  type DripRequestContext,
  type HeaderReader,
  isPromiseLike,
  type NodeResponseLike,
  nodeHeaderReader,
  onNodeResponseEnd,
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
import { Observable, type Observer, type Subscriber } from 'rxjs';
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

/** The platform's reply: Express `Response` (a Node response), or Fastify's reply with `raw`. */
type PlatformReply = NodeResponseLike & {
  raw?: NodeResponseLike;
  header?: unknown;
  setHeader(name: string, value: string): unknown;
};

/** Per-request marks on the platform request: seen once (registered twice, metered once), and the context. */
type Marked = { [SEEN]?: true; [DRIP_STATE_KEY]?: DripRequestContext };
/** The handler's error, kept for the request's outcome. */
interface ErrorBox {
  error?: unknown;
}

const SEEN = Symbol.for('@drip/nestjs.seen');

/** What the decorators say about one handler of one controller, read once (see {@link DripInterceptor}). */
interface HandlerMetadata {
  skip: boolean;
  rule: DripMeterRule | undefined;
}

/** A controller class or one of its handler functions, as Nest hands them to interceptors. */
type Target = Function;

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
  /**
   * `@SkipDrip()` / `@DripMeter()` per controller class and handler, read through the `Reflector` on the
   * first request to each handler. Decorator metadata is fixed once the classes are defined, so it is
   * not read again per request. Keyed by class, then handler: an inherited handler can be shared by two
   * controllers with different class-level rules.
   */
  private readonly metadata = new WeakMap<Target, WeakMap<Target, HandlerMetadata>>();

  constructor(
    @Inject(DRIP_REQUEST_METER) private readonly meter: RequestMeter,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  intercept(
    context: ExecutionContext,
    next: CallHandler,
  ): Observable<unknown> | Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    // `getArgByIndex` rather than `switchToHttp()`, which allocates three accessors per call.
    const req = context.getArgByIndex<DripHttpRequest & Marked>(0);
    if (req[SEEN]) return next.handle();
    req[SEEN] = true;
    const meta = this.handlerMetadata(context.getClass(), context.getHandler());
    const reply = context.getArgByIndex<PlatformReply>(1);
    let begun: BeginResult | PromiseLike<BeginResult>;
    try {
      // `@SkipDrip()` travels on the view: the pipeline skips the request and counts it in its stats.
      begun = this.meter.begin(new NestRequestView(req, meta.rule, meta.skip));
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

  private handlerMetadata(controller: Target, handler: Target): HandlerMetadata {
    let byHandler = this.metadata.get(controller);
    if (byHandler === undefined) {
      byHandler = new WeakMap();
      this.metadata.set(controller, byHandler);
    }
    let meta = byHandler.get(handler);
    if (meta === undefined) {
      const targets = [handler, controller];
      meta = {
        skip: this.reflector.getAllAndOverride<boolean | undefined>(SKIP_DRIP_KEY, targets) === true,
        rule: this.reflector.getAllAndOverride<DripMeterRule | undefined>(DRIP_METER_KEY, targets),
      };
      byHandler.set(handler, meta);
    }
    return meta;
  }
}

/** The pipeline's view of a Nest request (Express or Fastify), with no per-request closure. */
class NestRequestView implements RequestView<DripHttpRequest> {
  readonly method: string;
  readonly path: string;
  readonly route: string | undefined;
  readonly user: unknown;
  readonly header: HeaderReader;
  constructor(
    readonly raw: DripHttpRequest,
    readonly rule: DripMeterRule | undefined,
    readonly skip: boolean,
  ) {
    const method = raw.method;
    this.method = isUpperCase(method) ? method : method.toUpperCase();
    const url = raw.originalUrl ?? raw.url;
    const q = url.indexOf('?');
    this.path = q === -1 ? url : url.slice(0, q);
    this.route = routeOf(raw);
    this.user = raw.user;
    this.header = nodeHeaderReader(raw.headers);
  }
}

function isUpperCase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 97 && c <= 122) return false;
  }
  return true;
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
  reply: PlatformReply,
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
  const { handle } = result;
  req[DRIP_STATE_KEY] = result.context;
  const box: ErrorBox = {};
  // The adapter kit's rule for Node responses; by the end, Nest's exception layer has written the status.
  onNodeResponseEnd(reply.raw ?? reply, (end) => handle.finish({ ...end, error: box.error }));
  // `next.handle()` binds the handler to the async context it is called in: the request scope.
  const handled = handle.run(() => next.handle());
  return new Observable<unknown>((subscriber) => handled.subscribe(new ErrorRecorder(subscriber, box)));
}

/** Passes the handler's notifications through and keeps its error for the request's outcome. */
class ErrorRecorder implements Observer<unknown> {
  constructor(
    private readonly target: Subscriber<unknown>,
    private readonly box: ErrorBox,
  ) {}
  next(value: unknown): void {
    this.target.next(value);
  }
  error(error: unknown): void {
    this.box.error = error;
    this.target.error(error);
  }
  complete(): void {
    this.target.complete();
  }
}

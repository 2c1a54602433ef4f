import { createRequestMeter, type RequestMeter, type RequestMeterOptions } from '@drip/core';
import {
  type DynamicModule,
  Global,
  Inject,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OnApplicationShutdown,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { DRIP_OPTIONS, DRIP_REQUEST_METER } from './drip.constants';
import { type DripHttpRequest, DripInterceptor } from './drip.interceptor';
import { VERSION } from './version';

/**
 * Options of {@link DripModule}: the request-metering pipeline's options (`customer`, `unidentified`,
 * `meter`, `quantity`, `routes`, `run`, `gate`, `idempotencyHeader`, `metadata`, `onError`, `client` or
 * `apiKey`/`baseUrl`, `outbox`). User functions receive the platform's request (Express `Request` or
 * `FastifyRequest`); type it with the generic parameter. `@DripMeter()` on a handler takes the place of
 * `meter`/`quantity` and `routes` for that handler.
 *
 * @example
 * ```ts
 * const options: DripNestOptions = {
 *   customer: (req) => req.headers['x-customer-id'] as string | undefined,
 *   meter: 'api_calls',
 *   unidentified: 'skip',
 * };
 * DripModule.forRoot(options);
 * ```
 */
export type DripNestOptions<Req extends object = DripHttpRequest> = Omit<RequestMeterOptions<Req>, 'sdk'>;

/**
 * Options of {@link DripModule.forRootAsync}: a factory for {@link DripNestOptions} with its injected
 * dependencies (e.g. `ConfigService`) and the modules that provide them.
 *
 * @example
 * ```ts
 * DripModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ apiKey: config.get('DRIP_API_KEY') }),
 * });
 * ```
 */
export interface DripModuleAsyncOptions<Req extends object = DripHttpRequest> {
  imports?: ModuleMetadata['imports'];
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useFactory: (...args: never[]) => DripNestOptions<Req> | Promise<DripNestOptions<Req>>;
}

const meterProvider: Provider = {
  provide: DRIP_REQUEST_METER,
  useFactory: (options: DripNestOptions<object>): RequestMeter =>
    createRequestMeter<object>({
      ...options,
      sdk: { name: '@drip/nestjs', version: VERSION },
    } as RequestMeterOptions<object>) as RequestMeter,
  inject: [DRIP_OPTIONS],
};

/**
 * The Drip module: one request meter (client and delivery outbox) for the app, the
 * {@link DripInterceptor} and the decorators' support. Global: import it once in the root module. On
 * `app.close()` (and on signals with `app.enableShutdownHooks()`) it flushes what is still queued.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [DripModule.forRoot()], // DRIP_API_KEY, customer from req.user
 *   providers: [{ provide: APP_INTERCEPTOR, useClass: DripInterceptor }], // opt-in: every route
 *   controllers: [ItemsController],
 * })
 * export class AppModule {}
 * ```
 */
@Global()
@Module({})
export class DripModule implements OnApplicationShutdown {
  constructor(@Inject(DRIP_REQUEST_METER) private readonly meter: RequestMeter) {}

  /**
   * Registers the module with static options (none: `DRIP_API_KEY` and the pipeline's defaults).
   *
   * @example
   * ```ts
   * DripModule.forRoot({ meter: 'api_calls', unidentified: 'reject' });
   * ```
   */
  static forRoot<Req extends object = DripHttpRequest>(options: DripNestOptions<Req> = {}): DynamicModule {
    return DripModule.build([{ provide: DRIP_OPTIONS, useValue: options }], []);
  }

  /**
   * Registers the module with options computed by a factory (configuration, secrets).
   *
   * @example
   * ```ts
   * DripModule.forRootAsync({ inject: [ConfigService], useFactory: (c: ConfigService) => ({ apiKey: c.get('DRIP_API_KEY') }) });
   * ```
   */
  static forRootAsync<Req extends object = DripHttpRequest>(
    options: DripModuleAsyncOptions<Req>,
  ): DynamicModule {
    return DripModule.build(
      [
        {
          provide: DRIP_OPTIONS,
          useFactory: options.useFactory as (...args: unknown[]) => unknown,
          inject: options.inject ?? [],
        },
      ],
      options.imports ?? [],
    );
  }

  private static build(
    providers: Provider[],
    imports: NonNullable<ModuleMetadata['imports']>,
  ): DynamicModule {
    return {
      module: DripModule,
      global: true,
      imports,
      providers: [...providers, meterProvider, DripInterceptor],
      exports: [DRIP_OPTIONS, DRIP_REQUEST_METER, DripInterceptor],
    };
  }

  /** Flushes queued records when the app closes. */
  async onApplicationShutdown(): Promise<void> {
    await this.meter.close();
  }
}

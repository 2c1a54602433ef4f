import 'reflect-metadata';
import { type DripRequestContext, getDripContext, type RequestMeter } from '@drip/core';
import {
  type CanActivate,
  Controller,
  type DynamicModule,
  type ExecutionContext,
  Get,
  HttpCode,
  Injectable,
  type INestApplication,
  NotFoundException,
  Param,
  Post,
  type Provider,
  Req,
  type Type,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import * as src from '../src/index';

export type Platform = 'express' | 'fastify';
export type DripExports = typeof src;

/** The app's auth: sets `req.user` from `x-customer` like a Passport strategy would. */
@Injectable()
export class HeaderUserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, unknown>; user?: unknown }>();
    const customer = req.headers['x-customer'];
    if (typeof customer === 'string') req.user = { customerId: customer };
    return true;
  }
}

/** Lets a handler hang until the test releases it; `entered` resolves when the handler has started. */
export const gate: { release: () => void; wait: Promise<void>; enter: () => void; entered: Promise<void> } = {
  release: () => {},
  wait: Promise.resolve(),
  enter: () => {},
  entered: Promise.resolve(),
};
export function armGate(): void {
  gate.wait = new Promise<void>((resolve) => {
    gate.release = resolve;
  });
  gate.entered = new Promise<void>((resolve) => {
    gate.enter = resolve;
  });
}

/** Controllers decorated with the given copy of the package (source or built dist). */
export function controllers(d: DripExports): { Items: Type; Plain: Type } {
  @Controller('items')
  @UseGuards(HeaderUserGuard)
  @UseInterceptors(d.DripInterceptor)
  @d.DripMeter('api_calls')
  class ItemsController {
    @Get('free')
    @d.SkipDrip()
    free() {
      return { free: true };
    }

    @Get('missing')
    missing(): never {
      throw new NotFoundException({ error: 'no such item' });
    }

    @Get('boom')
    boom(): never {
      throw new TypeError('boom');
    }

    @Get('slow')
    async slow(@Req() _req: unknown) {
      gate.enter();
      await gate.wait;
      return { late: true };
    }

    @Post('search')
    @HttpCode(200)
    @d.DripMeter('searches', 5)
    search(@d.DripRun() drip?: DripRequestContext) {
      drip?.run.event({ eventType: 'search.query', terms: 2 });
      return { hits: 3 };
    }

    @Get('deep')
    async deep() {
      // Deep code: no parameter, the request scope carries the context across awaits.
      await new Promise((resolve) => setTimeout(resolve, 1));
      getDripContext()?.run.event({ eventType: 'deep.work' });
      return { customer: getDripContext()?.customerId ?? null };
    }

    @Get(':id')
    get(
      @Param('id') id: string,
      @d.DripRun() drip?: DripRequestContext,
      @d.DripCustomer() customer?: string,
    ) {
      drip?.run.event({ eventType: 'db.lookup', table: 'items' });
      drip?.usage('lookups', 2);
      return { id, customer: customer ?? null };
    }
  }

  @Controller('plain')
  @UseGuards(HeaderUserGuard)
  class PlainController {
    @Get('deep')
    async deep() {
      // Deep code: no parameter, the request scope carries the context across awaits.
      await new Promise((resolve) => setTimeout(resolve, 1));
      getDripContext()?.run.event({ eventType: 'deep.work' });
      return { customer: getDripContext()?.customerId ?? null };
    }

    @Get(':id')
    get(@Param('id') id: string, @d.DripRun() drip?: DripRequestContext) {
      return { id, metered: drip !== undefined };
    }
  }
  return { Items: ItemsController, Plain: PlainController };
}

/** Boots a real Nest app on the platform (not listening; supertest drives its HTTP server). */
export async function boot(
  platform: Platform,
  drip: DynamicModule,
  controllerList: Type[],
  providers: Provider[] = [],
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [drip],
    controllers: controllerList,
    providers: [HeaderUserGuard, ...providers],
  }).compile();
  const app = moduleRef.createNestApplication(
    platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(),
    {
      logger: false,
    },
  );
  await app.init();
  if (platform === 'fastify') {
    await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
  }
  return app;
}

export function meterOf(app: INestApplication, d: DripExports = src): RequestMeter {
  return app.get<RequestMeter>(d.DRIP_REQUEST_METER);
}

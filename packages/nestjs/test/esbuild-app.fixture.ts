// An app as esbuild (or swc without decorator metadata) compiles it: no `design:paramtypes` anywhere.
// The adapter source is bundled in, so esbuild compiles it too. Built and loaded by esbuild.test.ts.
import 'reflect-metadata';
import type { DripRequestContext } from '@drip/core';
import { DripInterceptor, DripMeter, DripModule, DripRun } from '../src/index';
import {
  Controller,
  type DynamicModule,
  Get,
  Inject,
  Injectable,
  Module,
  Param,
  UseInterceptors,
} from '@nestjs/common';

@Injectable()
export class PriceService {
  price(id: string): number {
    return id.length * 10;
  }
}

@Controller('prices')
@UseInterceptors(DripInterceptor)
@DripMeter('price_lookups', 2)
export class PricesController {
  constructor(@Inject(PriceService) private readonly prices: PriceService) {}

  @Get(':id')
  get(@Param('id') id: string, @DripRun() drip?: DripRequestContext) {
    drip?.run.event({ eventType: 'price.lookup', item: id });
    return { id, price: this.prices.price(id) };
  }
}

@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module class with a static dynamic-module factory is the framework idiom.
export class EsbuildAppModule {
  static register(client: unknown): DynamicModule {
    return {
      module: EsbuildAppModule,
      imports: [DripModule.forRoot({ client: client as never, customer: () => 'cus_esbuild' })],
      controllers: [PricesController],
      providers: [PriceService],
    };
  }
}

import { type DripNestOptions, DripModule } from '@drip/nestjs';
import { type DynamicModule, Module } from '@nestjs/common';
import { ApiController, HealthController } from './api.controller';
import { ApiKeyGuard, CUSTOMERS } from './auth.guard';

/** The app's module, built with the customers resolved at start-up and the Drip options. */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module class with a static dynamic-module factory is the framework's idiom.
export class AppModule {
  static register(customers: Readonly<Record<string, string>>, drip: DripNestOptions = {}): DynamicModule {
    return {
      module: AppModule,
      // Zero-config metering apart from the client: customer from req.user.customerId.
      imports: [DripModule.forRoot(drip)],
      controllers: [HealthController, ApiController],
      providers: [{ provide: CUSTOMERS, useValue: customers }, ApiKeyGuard],
    };
  }
}

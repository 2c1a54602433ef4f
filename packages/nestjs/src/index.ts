// The request scope for deep code (AsyncLocalStorage), from @drip/core.
export { getCurrentRun, getDripContext } from '@drip/core';
export { DRIP_OPTIONS, DRIP_REQUEST_METER } from './drip.constants';
export { DripCustomer, DripMeter, DripRun, SkipDrip } from './drip.decorators';
export type { DripMeterRule } from './drip.decorators';
export { DripInterceptor } from './drip.interceptor';
export type { DripHttpRequest } from './drip.interceptor';
export { DripModule } from './drip.module';
export type { DripModuleAsyncOptions, DripNestOptions } from './drip.module';
export { VERSION } from './version';

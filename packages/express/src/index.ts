export { dripMiddleware, dripErrorHandler, getDripContext } from './middleware';
export type { DripExpressOptions, DripExpressMiddleware } from './middleware';
export { VERSION } from './version';
export type { DripRequestContext, DripRunContext, RequestRunEvent } from '@drip/core';

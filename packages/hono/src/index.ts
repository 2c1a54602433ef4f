export { drip } from './middleware';
export type { DripHonoOptions, DripHonoMiddleware } from './middleware';
export { VERSION } from './version';
export type { DripRequestContext, DripRunContext, RequestRunEvent } from '@drip/core';

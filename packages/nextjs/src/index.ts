// The request scope for deep code (AsyncLocalStorage on the Node runtime and on Next's Edge runtime).
export { getCurrentRun, getDripContext } from '@drip/core';
export { nextControlFlow } from './control-flow';
export type { ControlFlow } from './control-flow';
export type { WaitUntil } from './delivery';
export { dripMeter } from './meter';
export { withDripPages } from './pages';
export type { DripPagesHandler, DripPagesOptions, DripPagesRequest, DripPagesResponse } from './pages';
export { routeTemplate } from './route-template';
export type { RouteParams } from './route-template';
export { VERSION } from './version';
export { withDrip } from './with-drip';
export type { DripNextOptions, DripRouteHandler } from './with-drip';

export { VERSION } from './version';
export { ROUTE_SCOPES, scopeForPath, keyTypeOf, keyModeOf, isAllowed } from './scopes';
export type { KeyScope, KeyType, KeyMode } from './scopes';

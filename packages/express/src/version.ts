/**
 * The version of `@drip/express`, sent to the Drip API as the adapter part of `X-Drip-Client`.
 * Kept in step with package.json by a test.
 *
 * @example
 * ```ts
 * import { VERSION } from '@drip/express';
 * console.log(`@drip/express ${VERSION}`);
 * ```
 */
export const VERSION = '0.1.0';

/**
 * The version of `@drip/hono`, sent to the Drip API as the adapter part of `X-Drip-Client`.
 * Kept in step with package.json by a test.
 *
 * @example
 * ```ts
 * import { VERSION } from '@drip/hono';
 * console.log(`@drip/hono ${VERSION}`);
 * ```
 */
export const VERSION = '0.1.0';

/** The package version, sent in `X-Drip-Client` and `User-Agent`. Kept in step with package.json by a test. */
export const VERSION = '0.1.0';

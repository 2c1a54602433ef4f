/**
 * The package version, reported to the pipeline as the SDK that produced each record.
 *
 * @example
 * ```ts
 * import { VERSION } from '@drip/nestjs';
 * console.log(`@drip/nestjs ${VERSION}`);
 * ```
 */
export const VERSION = '0.1.0';

import { generateWebhookSignature } from '@drip/core';

/**
 * Signs one delivery attempt (spec §8.1): `t=<epoch s>,v1=<hex>` with one `v1` per valid secret,
 * newest first. Uses `@drip/core`'s `generateWebhookSignature`, the project's one signer.
 */
export function signDelivery(
  body: string,
  secrets: readonly string[],
  t: number = Math.floor(Date.now() / 1000),
): Promise<string> {
  return generateWebhookSignature(body, secrets, t);
}

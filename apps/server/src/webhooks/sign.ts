import { createHmac } from 'node:crypto';

/**
 * Signs one delivery attempt (spec §8.1): `t=<epoch s>,v1=<hex>` with one `v1` per valid secret,
 * newest first. The server's only signer; it moves to `@drip/core`'s `generateWebhookSignature`
 * once core exports it.
 */
export async function signDelivery(
  body: string,
  secrets: readonly string[],
  t: number = Math.floor(Date.now() / 1000),
): Promise<string> {
  const parts = secrets.map(
    (secret) => `v1=${createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex')}`,
  );
  return [`t=${t}`, ...parts].join(',');
}

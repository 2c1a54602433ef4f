import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Drip } from '../src/client';
import { DripError } from '../src/errors';
import {
  constructWebhookEvent,
  generateWebhookSignature,
  isWebhookEventType,
  verifyWebhookSignature,
} from '../src/webhooks';

const SECRET = `whsec_${'ab'.repeat(32)}`;
const OLD = `whsec_${'cd'.repeat(32)}`;
const T = 1_767_225_600;
const body = JSON.stringify({
  id: 'whe_1',
  type: 'charge.failed',
  createdAt: '2026-01-01T00:00:00.000Z',
  data: { id: 'chg_1', status: 'FAILED', failureReason: 'INSUFFICIENT_BALANCE' },
});
const hmac = (secret: string, msg: string) => createHmac('sha256', secret).update(msg).digest('hex');

describe('webhook signatures (spec §8)', () => {
  it('generate matches an independent HMAC-SHA256 over "<t>.<body>" keyed by the whole secret', async () => {
    expect(await generateWebhookSignature(body, SECRET, T)).toBe(`t=${T},v1=${hmac(SECRET, `${T}.${body}`)}`);
    expect(await Drip.generateWebhookSignature(body, [SECRET, OLD], T)).toBe(
      `t=${T},v1=${hmac(SECRET, `${T}.${body}`)},v1=${hmac(OLD, `${T}.${body}`)}`,
    );
  });

  it('verifies, with several v1 values, several secrets, spaces and unknown parts', async () => {
    const header = ` t=${T} , v0=zzz, v1=${'0'.repeat(64)}, v1=${hmac(OLD, `${T}.${body}`)} `;
    expect(await verifyWebhookSignature(body, header, [SECRET, OLD], { now: T })).toBe(true);
    expect(await verifyWebhookSignature(body, header, SECRET, { now: T })).toBe(false);
    expect(
      await Drip.verifyWebhookSignature(new TextEncoder().encode(body), header, [OLD], { now: T + 300 }),
    ).toBe(true);
  });

  it('enforces the tolerance in both directions (default 300 s, option)', async () => {
    const header = await generateWebhookSignature(body, SECRET, T);
    expect(await verifyWebhookSignature(body, header, SECRET, { now: T + 301 })).toBe(false);
    expect(await verifyWebhookSignature(body, header, SECRET, { now: T - 301 })).toBe(false);
    expect(await verifyWebhookSignature(body, header, SECRET, { now: T - 300 })).toBe(true);
    expect(await verifyWebhookSignature(body, header, SECRET, { now: T + 1000, toleranceSec: 1000 })).toBe(
      true,
    );
  });

  it('accepts the bare 64-hex form (HMAC of the body alone)', async () => {
    expect(await verifyWebhookSignature(body, hmac(SECRET, body), SECRET)).toBe(true);
    expect(await verifyWebhookSignature(body, hmac(SECRET, body).toUpperCase(), SECRET)).toBe(true);
    expect(await verifyWebhookSignature(body, hmac(OLD, body), SECRET)).toBe(false);
  });

  it('never throws; false for empty, malformed or non-digit timestamps', async () => {
    const bad = [
      '',
      '   ',
      't=abc,v1=00',
      `t=${T}`,
      'v1=00',
      'garbage',
      `t=-1,v1=${hmac(SECRET, `-1.${body}`)}`,
    ];
    for (const h of bad) expect(await verifyWebhookSignature(body, h, SECRET, { now: T })).toBe(false);
    expect(await verifyWebhookSignature(body, null, SECRET)).toBe(false);
    expect(await verifyWebhookSignature(body, `t=${T},v1=00`, [], { now: T })).toBe(false);
  });

  it('property: any body verifies with its own signature and fails when one byte changes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 200 }), fc.nat(199), async (payload, pos) => {
        const header = await generateWebhookSignature(payload, SECRET, T);
        expect(await verifyWebhookSignature(payload, header, SECRET, { now: T })).toBe(true);
        const i = pos % payload.length;
        const flipped =
          payload.slice(0, i) + String.fromCharCode(payload.charCodeAt(i) ^ 1) + payload.slice(i + 1);
        expect(await verifyWebhookSignature(flipped, header, SECRET, { now: T })).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('constructWebhookEvent returns the typed event or throws 400 INVALID_SIGNATURE', async () => {
    const now = Math.floor(Date.now() / 1000);
    const header = await generateWebhookSignature(body, SECRET, now);
    const event = await constructWebhookEvent(body, header, SECRET);
    expect(event.type).toBe('charge.failed');
    expect(isWebhookEventType(event, 'charge.failed')).toBe(true);
    expect(isWebhookEventType(event, 'charge.succeeded')).toBe(false);
    if (isWebhookEventType(event, 'charge.failed'))
      expect(event.data.failureReason).toBe('INSUFFICIENT_BALANCE');
    const err = await Drip.constructWebhookEvent(body, header, OLD).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DripError);
    expect(err).toMatchObject({ statusCode: 400, code: 'INVALID_SIGNATURE' });
    const notEvent = '[1,2]';
    const h2 = await generateWebhookSignature(notEvent, SECRET, now);
    await expect(constructWebhookEvent(notEvent, h2, SECRET)).rejects.toMatchObject({
      code: 'INVALID_PAYLOAD',
    });
  });
});

describe('a timestamped signature is valid only in its timestamped form (issue 12)', () => {
  it('refuses the v1 of a timestamped header replayed as a bare signature over "<t>.<body>"', async () => {
    const header = await generateWebhookSignature(body, SECRET, T);
    const v1 = header.split('v1=')[1] as string;
    // An attacker who saw one delivery sends its v1 alone, with the signed message as the body.
    expect(await verifyWebhookSignature(`${T}.${body}`, v1, SECRET)).toBe(false);
    expect(await verifyWebhookSignature(new TextEncoder().encode(`${T}.${body}`), v1, SECRET)).toBe(false);
    await expect(constructWebhookEvent(`${T}.${body}`, v1, SECRET)).rejects.toMatchObject({
      code: 'INVALID_SIGNATURE',
    });
    // The genuine bare form (HMAC of a JSON body) still verifies.
    expect(await verifyWebhookSignature(body, hmac(SECRET, body), SECRET)).toBe(true);
  });

  it('property: no "<digits>.<rest>" body verifies in the bare form', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.string(), async (t, rest) => {
        const signed = `${t}.${rest}`;
        return !(await verifyWebhookSignature(signed, hmac(SECRET, signed), SECRET));
      }),
      { numRuns: 50 },
    );
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, -1])(
    'a tolerance of %s is a VALIDATION_ERROR, not a switched-off replay window',
    async (tolerance) => {
      const old = await generateWebhookSignature(body, SECRET, T - 10 * 365 * 86_400);
      for (const call of [
        () => verifyWebhookSignature(body, old, SECRET, tolerance),
        () => verifyWebhookSignature(body, old, SECRET, { toleranceSec: tolerance, now: T }),
        () => constructWebhookEvent(body, old, SECRET, { toleranceSec: tolerance }),
        () => Drip.verifyWebhookSignature(body, old, SECRET, tolerance),
      ]) {
        const err = await call().then(
          (ok) => ok,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(DripError);
        expect(err).toMatchObject({ code: 'VALIDATION_ERROR' });
      }
    },
  );

  it('a non-finite `now` is a VALIDATION_ERROR too', async () => {
    const header = await generateWebhookSignature(body, SECRET, T);
    await expect(verifyWebhookSignature(body, header, SECRET, { now: Number.NaN })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
    });
  });

  it('a tolerance of 0 still accepts a signature of this very second', async () => {
    const header = await generateWebhookSignature(body, SECRET, T);
    expect(await verifyWebhookSignature(body, header, SECRET, { toleranceSec: 0, now: T })).toBe(true);
    expect(await verifyWebhookSignature(body, header, SECRET, { toleranceSec: 0, now: T + 1 })).toBe(false);
  });
});

describe('the v1 value is compared whole', () => {
  it('a v1 value with extra characters after the right signature is refused', async () => {
    const header = await generateWebhookSignature(body, SECRET, T);
    const v1 = header.split('v1=')[1] as string;
    expect(await verifyWebhookSignature(body, header, SECRET, { now: T })).toBe(true);
    expect(await verifyWebhookSignature(body, `t=${T},v1=${v1}00`, SECRET, { now: T })).toBe(false);
    expect(await verifyWebhookSignature(body, `t=${T},v1=${v1}${v1}`, SECRET, { now: T })).toBe(false);
  });
});

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createRegistry, install } from './shutdown';

/** A fake `process`: an EventEmitter with a pid and a `kill` that records what it was asked. */
function fakeProcess() {
  const emitter = new EventEmitter();
  const kills: string[] = [];
  const p = Object.assign(emitter, {
    pid: 4242,
    kill(_pid: number, signal: string) {
      kills.push(signal);
      return true;
    },
  });
  return { p, kills };
}

function setup() {
  const { p, kills } = fakeProcess();
  const r = createRegistry();
  let flushed = 0;
  r.outboxes.set(
    {
      shutdownFlush: async () => {
        flushed++;
      },
      stats: () => ({ queued: 0, inFlight: 0 }),
    },
    1_000,
  );
  const flushes = () => flushed;
  return { p, kills, r, flushes };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('shutdown hooks', () => {
  it('re-raises the signal after the flush when the app has no listener', async () => {
    const { p, kills, r, flushes } = setup();
    install(p, r);
    p.emit('SIGTERM');
    await settle();
    expect(flushes()).toBe(1);
    expect(kills).toEqual(['SIGTERM']);
  });

  it('never re-raises when the app handled the signal with process.once (registered before core)', async () => {
    const { p, kills, r, flushes } = setup();
    let appSaw = 0;
    p.once('SIGTERM', () => appSaw++);
    install(p, r);
    p.emit('SIGTERM');
    await settle();
    expect(appSaw).toBe(1);
    expect(flushes()).toBe(1);
    expect(kills).toEqual([]);
  });

  it('never re-raises when the app handled the signal with process.once (registered after core)', async () => {
    const { p, kills, r } = setup();
    install(p, r);
    let appSaw = 0;
    p.once('SIGINT', () => appSaw++);
    p.emit('SIGINT');
    await settle();
    expect(appSaw).toBe(1);
    expect(kills).toEqual([]);
  });

  it('never re-raises when the app prepended its own once listener after core', async () => {
    const { p, kills, r } = setup();
    install(p, r);
    let appSaw = 0;
    p.prependOnceListener('SIGTERM', () => appSaw++);
    p.emit('SIGTERM');
    await settle();
    expect(appSaw).toBe(1);
    expect(kills).toEqual([]);
  });

  it('keeps the app in charge with a persistent listener', async () => {
    const { p, kills, r } = setup();
    p.on('SIGTERM', () => {});
    install(p, r);
    p.emit('SIGTERM');
    await settle();
    expect(kills).toEqual([]);
  });
});

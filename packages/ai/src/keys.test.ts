import { describe, expect, it } from 'vitest';
import { nextPosition } from './keys';

// The keys built from these positions are tested with core's key module (modelCallKey).
describe('call positions', () => {
  it('count per request object and per run, shared by every wrapper', () => {
    const request = {};
    expect([nextPosition(request), nextPosition(request), nextPosition({})]).toEqual([0, 1, 0]);
    const run = `run-${Math.random()}`;
    expect([nextPosition(run), nextPosition(run)]).toEqual([0, 1]);
  });
});

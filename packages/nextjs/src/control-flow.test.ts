import { describe, expect, it } from 'vitest';
import { nextControlFlow } from './control-flow';

describe('nextControlFlow', () => {
  it('reads the status of redirect() and notFound() digests', () => {
    expect(nextControlFlow({ digest: 'NEXT_REDIRECT;replace;/login;307;' })).toEqual({ status: 307 });
    expect(nextControlFlow({ digest: 'NEXT_REDIRECT;push;/moved;308;' })).toEqual({ status: 308 });
    expect(nextControlFlow({ digest: 'NEXT_REDIRECT;push;/x;nonsense;' })).toEqual({ status: 307 });
    expect(nextControlFlow({ digest: 'NEXT_HTTP_ERROR_FALLBACK;404' })).toEqual({ status: 404 });
    expect(nextControlFlow({ digest: 'NEXT_HTTP_ERROR_FALLBACK;403' })).toEqual({ status: 403 });
    expect(nextControlFlow({ digest: 'NEXT_NOT_FOUND' })).toEqual({ status: 404 });
  });

  it('treats rendering bail-outs as control flow without a response', () => {
    expect(nextControlFlow({ digest: 'DYNAMIC_SERVER_USAGE' })).toEqual({ status: undefined });
    expect(nextControlFlow({ $$typeof: Symbol.for('react.postpone') })).toEqual({ status: undefined });
  });

  it('leaves real errors alone', () => {
    expect(nextControlFlow(new Error('boom'))).toBeUndefined();
    expect(nextControlFlow({ digest: '12345' })).toBeUndefined();
    expect(nextControlFlow('NEXT_REDIRECT')).toBeUndefined();
    expect(nextControlFlow(null)).toBeUndefined();
  });
});

/**
 * Next.js signals `redirect()`, `notFound()`, `forbidden()`, `unauthorized()` and rendering bail-outs by
 * throwing errors that carry a `digest`. They are not failures of the handler: the adapter lets them pass
 * untouched and records the status Next will answer with.
 *
 * @example
 * ```ts
 * const flow: ControlFlow | undefined = nextControlFlow(error);
 * if (flow?.status === 404) console.log('notFound()');
 * ```
 */
export interface ControlFlow {
  /** Status Next answers with, or `undefined` for a bail-out that is not a response (no record is made). */
  status: number | undefined;
}

/**
 * Classifies an error thrown by a handler: a Next.js control-flow signal, or `undefined` for a real error.
 *
 * @example
 * ```ts
 * nextControlFlow({ digest: 'NEXT_REDIRECT;replace;/login;307;' }); // { status: 307 }
 * nextControlFlow(new Error('boom'));                                 // undefined
 * ```
 */
export function nextControlFlow(error: unknown): ControlFlow | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const digest = (error as { digest?: unknown }).digest;
  if (typeof digest !== 'string') {
    // React's postpone() marker (partial prerendering).
    const tag = (error as { $$typeof?: unknown }).$$typeof;
    return tag === Symbol.for('react.postpone') ? { status: undefined } : undefined;
  }
  if (digest.startsWith('NEXT_REDIRECT;')) {
    const code = Number(digest.split(';')[3]);
    return { status: Number.isInteger(code) && code >= 300 && code < 400 ? code : 307 };
  }
  if (digest.startsWith('NEXT_HTTP_ERROR_FALLBACK;')) {
    const code = Number(digest.split(';')[1]);
    return { status: Number.isInteger(code) ? code : 404 };
  }
  if (digest === 'NEXT_NOT_FOUND') return { status: 404 };
  if (
    digest === 'DYNAMIC_SERVER_USAGE' ||
    digest === 'BAILOUT_TO_CLIENT_SIDE_RENDERING' ||
    digest === 'NEXT_PRERENDER_INTERRUPTED' ||
    digest.startsWith('HANGING_PROMISE_REJECTION')
  ) {
    return { status: undefined };
  }
  return undefined;
}

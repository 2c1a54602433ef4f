/**
 * The adapter kit: what every adapter needs to observe a request's end, in one place, so no adapter
 * re-derives it. Adapters translate their framework's request into a `RequestView` and report the end
 * through these helpers; the pipeline's outcome rule (`pipeline/outcome.ts`) decides what it bills.
 *
 * - Node servers (Express, @hono/node-server, Nest, Next's Pages Router): {@link onNodeResponseEnd}.
 * - Web-standard responses (Hono on Workers, Bun, Deno; Next's App Router): {@link meterResponse}, one
 *   rule for which bodies are metered and one metered body stream.
 * - Header reading over Node's header object or a web `Headers`: {@link nodeHeaderReader},
 *   {@link webHeaderReader}.
 *
 * Runtime-neutral: structural types only, no `node:` import.
 */

import type { HeaderReader, RequestOutcome } from './pipeline/types';

/**
 * The part of Node's `ServerResponse` the kit reads (Express `res`, Fastify's `reply.raw`, Next's
 * `NextApiResponse`, @hono/node-server's `outgoing`).
 *
 * @example
 * ```ts
 * const res: NodeResponseLike = expressRes;
 * ```
 */
export interface NodeResponseLike {
  statusCode: number;
  writableFinished?: boolean | undefined;
  on(event: 'close', listener: () => void): unknown;
}

/**
 * How a response ended as the kit observed it: the status sent and whether the client left first
 * (`aborted`), plus the error of a failed body stream.
 *
 * @example
 * ```ts
 * const end: ObservedEnd = { status: 200, aborted: false };
 * ```
 */
export type ObservedEnd = Pick<RequestOutcome, 'status' | 'error' | 'aborted'>;

/**
 * Calls `onEnd` once when a Node response is over. Node emits `close` after the last byte of a complete
 * response (`writableFinished` true), and alone when the client went away first (aborted), for plain
 * and streamed (`res.write`) responses alike, so one listener tells them apart.
 *
 * @example
 * ```ts
 * onNodeResponseEnd(res, (end) => handle.finish({ ...end, route: routeOf(req) }));
 * ```
 */
export function onNodeResponseEnd(res: NodeResponseLike, onEnd: (end: ObservedEnd) => void): void {
  // `on` with a guard rather than `once`: `once` wraps the listener and removes it again as it fires,
  // which allocates and edits the emitter's listener table on every request.
  let ended = false;
  res.on('close', () => {
    if (ended) return;
    ended = true;
    onEnd({ status: res.statusCode, aborted: res.writableFinished === false });
  });
}

/**
 * A header reader over Node's header object (lower-case names; repeated headers joined with `, `).
 *
 * @example
 * ```ts
 * const header = nodeHeaderReader(req.headers);
 * header('Idempotency-Key');
 * ```
 */
export function nodeHeaderReader(headers: Record<string, string | string[] | undefined>): HeaderReader {
  return (name) => {
    const value = headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  };
}

/**
 * A header reader over a web-standard `Headers`.
 *
 * @example
 * ```ts
 * const header = webHeaderReader(request.headers);
 * header('x-customer-id');
 * ```
 */
export function webHeaderReader(headers: Headers): HeaderReader {
  return (name) => headers.get(name) ?? undefined;
}

/**
 * The one rule for web responses: a response ends when its body does (read to the end, failed or
 * cancelled by the client), so every response with a body is metered through its body, whatever its
 * headers say (JSON, chunked, SSE, a handler's own `ReadableStream`). A response without a body, or the
 * answer to a `HEAD` request (whose body the server discards unread), ends when the handler returns.
 *
 * @example
 * ```ts
 * endsWithBody('GET', new Response('hi')); // true
 * endsWithBody('HEAD', new Response('hi')); // false
 * ```
 */
export function endsWithBody(method: string, response: Response): boolean {
  return response.body !== null && method !== 'HEAD';
}

/**
 * Reports a web response's end to `onEnd`, once: at once when it ends now ({@link endsWithBody} is
 * false; `signal` tells whether the client already left), otherwise when its body ends, through a body
 * that passes the original through chunk by chunk (nothing read ahead) and returns a new `Response`
 * with the same status, status text and headers. Give the returned response to the framework.
 *
 * @example
 * ```ts
 * const res = await handler(request);
 * return meterResponse(request.method, res, request.signal, (end) => handle.finish({ ...end, route }));
 * ```
 */
export function meterResponse(
  method: string,
  response: Response,
  signal: AbortSignal | undefined,
  onEnd: (end: ObservedEnd) => void,
): Response {
  const status = response.status;
  if (!endsWithBody(method, response)) {
    onEnd({ status, aborted: signal?.aborted === true });
    return response;
  }
  const body = new ReadableStream<Uint8Array>(
    new MeteredSource((response.body as ReadableStream<Uint8Array>).getReader(), status, onEnd),
    { highWaterMark: 0 },
  );
  return new Response(body, { status, statusText: response.statusText, headers: response.headers });
}

/** Pulls the original body chunk by chunk and reports how it ended. */
class MeteredSource implements UnderlyingDefaultSource<Uint8Array> {
  #ended = false;
  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly status: number,
    private readonly onEnd: (end: ObservedEnd) => void,
  ) {}

  #end(aborted: boolean, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.onEnd(
      error === undefined ? { status: this.status, aborted } : { status: this.status, aborted, error },
    );
  }

  pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    return this.reader.read().then(
      (chunk) => {
        if (chunk.done) {
          controller.close();
          this.#end(false);
        } else {
          controller.enqueue(chunk.value);
        }
      },
      (error: unknown) => {
        this.#end(false, error);
        controller.error(error);
      },
    );
  }

  cancel(reason: unknown): Promise<void> {
    this.#end(true);
    return this.reader.cancel(reason);
  }
}

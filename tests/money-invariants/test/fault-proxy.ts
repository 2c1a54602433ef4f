/**
 * A fault-injecting HTTP proxy on loopback between the app's Drip client and the local server. Faults
 * are counted, never timed, so a run is the same every time: the next `n` requests (never `/health`) get
 * the fault, then requests pass through.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** Answers 503, 500, 502 in turn without forwarding (the server never sees the request). */
  | 'storm'
  /** Destroys the connection before forwarding. */
  | 'reset'
  /** Forwards, lets the server apply the request, then destroys the connection instead of answering. */
  | 'lost-answer'
  /** Every request (health included) gets its connection destroyed: the API is down. */
  | 'down';

export interface FaultProxy {
  url: string;
  /** The next `n` requests get `fault` (`down` lasts until `clear()`). */
  inject(fault: Fault, n?: number): void;
  clear(): void;
  /** Requests that reached the server through the proxy, and faults served. */
  readonly counts: { forwarded: number; faulted: number };
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const to = new URL(target);
  let fault: Fault | undefined;
  let left = 0;
  let turn = 0;
  const counts = { forwarded: 0, faulted: 0 };
  const sockets = new Set<Socket>();

  const take = (path: string): Fault | undefined => {
    if (fault === 'down') return 'down';
    if (fault === undefined || left <= 0 || path.endsWith('/health')) return undefined;
    left--;
    const f = fault;
    if (left === 0) fault = undefined;
    return f;
  };

  const forward = (
    req: IncomingMessage,
    body: Buffer,
    onAnswer: (res: IncomingMessage, data: Buffer) => void,
  ) => {
    counts.forwarded++;
    const out = httpRequest(
      {
        host: to.hostname,
        port: to.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: to.host },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => onAnswer(res, Buffer.concat(chunks)));
      },
    );
    out.on('error', () => req.socket.destroy());
    out.end(body);
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const f = take(req.url ?? '');
      if (f !== undefined) counts.faulted++;
      if (f === 'down' || f === 'reset') {
        req.socket.destroy();
        return;
      }
      if (f === 'storm') {
        const status = [503, 500, 502][turn++ % 3] as number;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'injected', code: 'INJECTED' }));
        return;
      }
      forward(req, body, (answer, data) => {
        if (f === 'lost-answer') {
          req.socket.destroy();
          return;
        }
        const headers: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(answer.headers))
          if (v !== undefined && k !== 'connection') headers[k] = v;
        res.writeHead(answer.statusCode ?? 502, headers).end(data);
      });
    });
  };
  const server: Server = createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    inject(f, n = Number.POSITIVE_INFINITY) {
      fault = f;
      left = n;
    },
    clear() {
      fault = undefined;
      left = 0;
    },
    counts,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

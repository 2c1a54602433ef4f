/**
 * A faulty Drip API on a real loopback socket for the outbox's fault tests: the in-memory API of
 * `@drip/testing` behind `node:http`, plus socket-level faults (refused connections, resets, stalls).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createTestDrip, type TestDrip, type TestDripOptions } from '@drip/testing';

export interface LoopbackApi {
  api: TestDrip;
  url: string;
  baseUrl: string;
  /** Stops listening (connections are refused) until `start()`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The next `n` requests get their socket destroyed before any answer (after applying when `afterApply`). */
  resetNext(n: number, afterApply?: boolean): void;
  close(): Promise<void>;
}

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
  const init: RequestInit = { method: req.method ?? 'GET', headers };
  if (chunks.length > 0) init.body = Buffer.concat(chunks);
  return new Request(new URL(req.url ?? '/', origin), init);
}

export async function startLoopbackApi(options: TestDripOptions = {}): Promise<LoopbackApi> {
  const api = createTestDrip(options);
  let port = 0;
  let resets = 0;
  let resetAfterApply = false;
  const sockets = new Set<Socket>();
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const request = await toRequest(req, `http://127.0.0.1:${port}`);
    if (resets > 0 && !(req.url ?? '').endsWith('/health')) {
      resets--;
      if (resetAfterApply) await api.handle(request).catch(() => undefined);
      req.socket.destroy();
      return;
    }
    try {
      const response = await api.handle(request);
      const body = Buffer.from(await response.arrayBuffer());
      const headers: Record<string, string> = {};
      response.headers.forEach((v, k) => {
        headers[k] = v;
      });
      res.writeHead(response.status, headers).end(body);
    } catch {
      // Injected reset or timeout of the in-memory API: a real reset on the socket.
      req.socket.destroy();
    }
  };
  let server: Server | undefined;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((req, res) => void handler(req, res));
      s.keepAliveTimeout = 5_000;
      s.on('connection', (sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  await listen();
  const close = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      for (const sock of sockets) sock.destroy();
      s.close(() => resolve());
    });
  const url = `http://127.0.0.1:${port}`;
  return {
    api,
    url,
    baseUrl: `${url}/v1`,
    stop: close,
    start: async () => {
      // Re-listen on the same port; retry briefly if the port is still being released.
      for (let i = 0; i < 50; i++) {
        try {
          await listen();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      throw new Error('could not re-listen');
    },
    resetNext(n, afterApply = false) {
      resets = n;
      resetAfterApply = afterApply;
    },
    close,
  };
}

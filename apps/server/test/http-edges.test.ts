// Edges of HTTP below the routes: an oversized request line gets the JSON envelope (spec §2.7), and a
// client that disconnects mid-body is the client's abort, not a server error.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger, RunningServer } from '../src/index';
import { startServer } from '../src/index';
import { eventually } from './helpers';

type Line = { level: string; msg: string; fields: Record<string, unknown> | undefined };

/** Sends raw bytes and returns everything the server writes until it closes the connection. */
function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(data));
    let out = '';
    s.on('data', (d) => {
      out += d;
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(20_000, () => {
      s.destroy();
      resolve(out);
    });
  });
}

describe('HTTP edges', () => {
  let srv: RunningServer;
  const lines: Line[] = [];
  const logger: Logger = {
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
  };
  beforeAll(async () => {
    srv = await startServer({ port: 0, host: '127.0.0.1', memory: true, logger });
  });
  afterAll(() => srv.close());

  it('a request line over 16 KiB is answered 431 with the JSON envelope', async () => {
    const res = await rawExchange(
      srv.port,
      `GET /v1/customers?q=${'a'.repeat(17 * 1024)} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${srv.apiKey}\r\n\r\n`,
    );
    const [head = '', body = ''] = res.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head.toLowerCase()).toContain('content-type: application/json');
    expect(JSON.parse(body)).toEqual({
      error: 'Request line and headers exceed 16 KiB',
      code: 'REQUEST_HEADERS_TOO_LARGE',
    });
  });

  it('a malformed request is answered 400 with the JSON envelope', async () => {
    const res = await rawExchange(srv.port, 'NOT HTTP AT ALL\r\n\r\n');
    const [head = '', body = ''] = res.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(body)).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('a client that disconnects mid-body is logged as its abort, not as a server error', async () => {
    lines.length = 0;
    await new Promise<void>((resolve, reject) => {
      const body = '{"events":[';
      const s = connect(srv.port, '127.0.0.1', () => {
        s.write(
          `POST /v1/usage/internal/bulk HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${srv.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n${body}`,
          () =>
            setTimeout(() => {
              s.destroy();
              resolve();
            }, 200),
        );
      });
      s.on('error', reject);
    });
    const aborted = await eventually(async () => lines.find((l) => /abort/i.test(l.msg)));
    expect(['debug', 'info']).toContain(aborted.level);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    // The request log records the client's abort (499), not a server error.
    await eventually(async () => lines.find((l) => l.msg === 'request'));
    const req = lines.find((l) => l.msg === 'request');
    expect(req?.fields?.status).toBe(499);
    // The server still serves.
    const ok = await fetch(`${srv.url}/v1/customers`, { headers: { authorization: `Bearer ${srv.apiKey}` } });
    expect(ok.status).toBe(200);
  });
});

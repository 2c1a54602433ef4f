/**
 * The client side of the outcome suite over a real socket (Node runners: Express, Nest, @hono/node-server):
 * a request that reads the whole answer, or leaves (destroys its socket) after the first body chunk.
 */

import { request } from 'node:http';
import { customerOf, type OutcomeCase, pathOf } from './cases';

/** Sends the case's request to `127.0.0.1:port`; resolves with the status, once the client is done. */
export function sendOverSocket(port: number, c: OutcomeCase): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: pathOf(c), headers: { 'x-customer-id': customerOf(c) } },
      (res) => {
        const status = res.statusCode ?? 0;
        if (c.clientLeaves) {
          res.once('data', () => {
            // The client goes away mid-body: the server sees the connection close before the end.
            req.destroy();
            resolve(status);
          });
        } else {
          res.resume();
          res.on('end', () => resolve(status));
        }
        res.on('error', () => resolve(status));
      },
    );
    req.on('error', (err) => (c.clientLeaves ? undefined : reject(err)));
    req.end();
  });
}

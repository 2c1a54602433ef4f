import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exampleScenario, usageTotals } from '@drip/example-scenario';
import { describe, expect, it } from 'vitest';
import { startExample } from '../src/server.js';

const handles = exampleScenario({
  name: 'example-nestjs',
  start: startExample,
  failBody: { statusCode: 500, message: 'Internal server error' },
});

describe('the tsc build (node dist/main.js, configured from the environment)', () => {
  it('starts, meters a call, and flushes it on SIGTERM', async () => {
    const appDir = fileURLToPath(new URL('..', import.meta.url));
    if (!existsSync(join(appDir, 'dist', 'main.js'))) {
      // turbo builds it before the tests; build here only when it is missing.
      const tsc = createRequire(join(appDir, 'package.json')).resolve('typescript/bin/tsc');
      const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
        cwd: appDir,
        encoding: 'utf8',
      });
      expect(built.status, built.stdout).toBe(0);
    }
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: appDir,
      env: {
        ...process.env,
        PORT: '0',
        DRIP_API_KEY: handles.server().apiKey,
        DRIP_API_URL: handles.server().url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr?.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(`${code} ${signal}`)),
    );
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dist/main.js did not start: ${output}`)), 60_000);
      child.stdout?.on('data', (d) => {
        output += d;
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', () => reject(new Error(`dist/main.js exited: ${output}`)));
    });
    const { initech } = handles.example().customers as Record<'initech', string>;
    const before = (await usageTotals(handles.server(), initech)).api_calls ?? 0;
    const res = await fetch(`${url}/api/items/99`, { headers: { 'x-api-key': 'key_initech' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '99', name: 'Item 99' });
    child.kill('SIGTERM'); // DripModule flushes what is queued before the process exits
    expect(await exited, output).toBe('0 null');
    expect((await usageTotals(handles.server(), initech)).api_calls).toBe(before + 1);
  });
});

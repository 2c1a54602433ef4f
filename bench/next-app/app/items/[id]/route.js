import { withDrip } from '@drip/nextjs';
import { benchOptions, floorHandler, handler } from '../../../lib/handler.js';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

// bench/overhead.mjs starts one `next start` per row, BENCH_MODE naming it: bare, floor or drip.
const mode = process.env.BENCH_MODE ?? 'bare';

export const GET =
  mode === 'drip'
    ? withDrip(handler, benchOptions)
    : mode === 'floor'
      ? floorHandler
      : (request, context) => handler(request, context, undefined);

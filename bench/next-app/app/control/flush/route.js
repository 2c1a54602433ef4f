import { dripMeter } from '@drip/nextjs';
import { benchOptions, counters } from '../../../lib/handler.js';

export const dynamic = 'force-dynamic';

export async function POST() {
  const meter = dripMeter(benchOptions);
  await meter.flush(120_000);
  return Response.json({ served: counters.served, metered: counters.metered, stats: meter.stats() });
}

import { dripMeter } from '@drip/nextjs';
import { benchOptions, counters, floor } from '../../../lib/handler.js';

export const dynamic = 'force-dynamic';

export async function POST() {
  const meter = dripMeter(benchOptions);
  await meter.flush(120_000);
  floor.drained += floor.queue.length;
  floor.queue = [];
  return Response.json({
    served: counters.served,
    metered: counters.metered,
    delivered: floor.drained,
    stats: meter.stats(),
  });
}

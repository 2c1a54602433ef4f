import { counters } from '../../../lib/handler.js';

export const dynamic = 'force-dynamic';

export function GET() {
  return Response.json({ served: counters.served, metered: counters.metered, cpu: process.cpuUsage() });
}

import { withDrip } from '@drip/nextjs';
import { dripOptions, withAuth } from '../../../../lib/drip';

// Node runtime route: metered to api_calls (1 per call); route template `/api/items/[id]`.
export const runtime = 'nodejs';

export const GET = withAuth(
  withDrip(async (_request, { params }: { params: Promise<{ id: string }> }, drip) => {
    const { id } = await params;
    drip?.run.event({ eventType: 'db.lookup', table: 'items' });
    return Response.json({ id, name: `Item ${id}` });
  }, dripOptions),
);

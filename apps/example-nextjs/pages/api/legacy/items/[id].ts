import { withDripPages } from '@drip/nextjs';
import type { NextApiRequest, NextApiResponse } from 'next';
import { dripPagesOptions, withPagesAuth } from '../../../../lib/drip';

// Pages Router API route: metered to api_calls; route template `/api/legacy/items/[id]`.
export default withPagesAuth(
  withDripPages((req: NextApiRequest, res: NextApiResponse, drip) => {
    const id = String(req.query.id);
    drip?.run.event({ eventType: 'db.lookup', table: 'items' });
    res.status(200).json({ id, name: `Item ${id}`, router: 'pages' });
  }, dripPagesOptions),
);

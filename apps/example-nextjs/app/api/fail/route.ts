import { withDrip } from '@drip/nextjs';
import { dripOptions, withAuth } from '../../../lib/drip';

// The handler throws: Next answers 500; the run is FAILED and, by default, nothing is billed.
export const runtime = 'nodejs';

export const GET = withAuth(
  withDrip(async () => {
    throw new Error('The agent crashed (on purpose).');
  }, dripOptions),
);

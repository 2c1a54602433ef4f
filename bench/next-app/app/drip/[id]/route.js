import { withDrip } from '@drip/nextjs';
import { benchOptions, handler } from '../../../lib/handler.js';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export const GET = withDrip(handler, benchOptions);

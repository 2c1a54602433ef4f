import { handler } from '../../../lib/handler.js';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request, context) {
  return handler(request, context, undefined);
}

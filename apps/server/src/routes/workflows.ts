// Workflows (spec §3.5): create and list.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv, Deps } from '../context';
import {
  ApiError,
  metadataSchema,
  pageQuery,
  queryBool,
  readJson,
  send,
  validate,
  validateQuery,
} from '../http';
import { workflowOut } from '../shapes';
import { newId } from '../util';
import { pagedList, Where } from './common';
import { SLUG_RE, SURFACES, CHAINS, findWorkflow } from './run-model';

const workflowSchema = z.object({
  name: z.string().min(1).max(255),
  slug: z.string().min(1).max(100).regex(SLUG_RE, 'lowercase letters, digits, _ and - only'),
  productSurface: z.enum(SURFACES).default('CUSTOM'),
  chain: z.enum(CHAINS).optional(),
  description: z.string().max(1000).optional(),
  metadata: metadataSchema.optional(),
});

export function registerWorkflows(api: Hono<AppEnv>, deps: Deps): void {
  const { db } = deps;

  api.post('/workflows', async (c) => {
    const auth = c.get('auth');
    const b = validate(workflowSchema, await readJson(c));
    const [row] = await db.query(
      `INSERT INTO workflows (id, project_id, mode, name, slug, product_surface, chain, description, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT (project_id, mode, slug) DO NOTHING RETURNING *`,
      [
        newId('wf'),
        auth.projectId,
        auth.mode,
        b.name,
        b.slug,
        b.productSurface,
        b.chain ?? null,
        b.description ?? null,
        b.metadata ? JSON.stringify(b.metadata) : null,
      ],
    );
    if (!row) {
      const existing = await findWorkflow(db, auth, b.slug);
      throw new ApiError(409, 'DUPLICATE_WORKFLOW', `A workflow with slug "${b.slug}" already exists`, {
        extra: { existingWorkflowId: existing?.id ?? null },
      });
    }
    return send(c, 201, workflowOut(row));
  });

  api.get('/workflows', async (c) => {
    const auth = c.get('auth');
    const q = validateQuery(
      z.object({
        ...pageQuery(50),
        productSurface: z.enum(SURFACES).optional(),
        isActive: queryBool.optional(),
      }),
      c,
    );
    const where = new Where(auth, 'w')
      .add('w.product_surface = ?', q.productSurface)
      .add('w.is_active = ?', q.isActive);
    const { rows, count } = await pagedList(
      db,
      'SELECT w.*, (SELECT count(*) FROM runs r WHERE r.workflow_id = w.id) AS run_count',
      'FROM workflows w',
      where,
      'w.created_at DESC, w.id DESC',
      q.limit,
      q.offset,
    );
    return send(c, 200, { data: rows.map(workflowOut), count, hasMore: q.offset + rows.length < count });
  });
}

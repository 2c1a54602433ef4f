// Lookups by a unique key must be planned through that key's index on a new database too. On a table
// that was never analysed, PostgreSQL estimates `project_id = $1 AND mode = $2` at under one row, and
// picks the index that matches only those two columns (`runs_list`, `customers_onchain`): every lookup
// then reads every row of the project. The server analyses the tables it grows (src/db/analyze.ts);
// autovacuum is switched off here so that only the server can have analysed them.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../src/index';
import { BACKENDS, type Backend, client, freshDatabase } from './helpers';

const RUN_BY_EXTERNAL_ID = `SELECT r.*, w.name AS workflow_name FROM runs r JOIN workflows w ON w.id = r.workflow_id
         WHERE r.project_id = $1 AND r.mode = $2 AND r.external_run_id = $3`;
const RUN_ID_BY_EXTERNAL_ID =
  'SELECT id FROM runs WHERE project_id = $1 AND mode = $2 AND external_run_id = $3';
const CUSTOMER_BY_ID = 'SELECT * FROM customers WHERE id = $1 AND project_id = $2 AND mode = $3';
const CUSTOMERS_BY_IDS =
  'SELECT id FROM customers WHERE project_id = $1 AND mode = $2 AND id = ANY($3::text[])';

/** SQL literal of a value made of letters, digits, `_` and `-` (ids in this test). */
const lit = (v: string): string => {
  if (!/^[\w-]+$/.test(v)) throw new Error(`not a plain id: ${v}`);
  return `'${v}'`;
};

interface Planner {
  /** EXPLAIN of `sql` planned with `args` as constants (a custom plan). */
  custom(sql: string, args: string[]): Promise<string>;
  /** EXPLAIN of `sql` as a prepared statement's generic plan (what `pg` runs after five executions). */
  generic(sql: string, types: string, args: string[]): Promise<string>;
  close(): Promise<void>;
}

async function planner(backend: Backend, srv: RunningServer, url: string | undefined): Promise<Planner> {
  let conn: pg.Client | undefined;
  if (backend === 'postgres') {
    conn = new pg.Client({ connectionString: url });
    await conn.connect();
  }
  // PGlite is one connection: session settings and prepared statements persist between store queries.
  const run = async (sql: string): Promise<string[]> => {
    const rows = conn ? (await conn.query(sql)).rows : await srv.store.query(sql);
    return rows.map((r) => String((r as Record<string, unknown>)['QUERY PLAN']));
  };
  const bind = (sql: string, args: string[]) =>
    sql.replace(/\$(\d)/g, (_, n: string) => {
      const v = args[Number(n) - 1] ?? '';
      return v.startsWith('{') ? `'${v}'` : lit(v);
    });
  let n = 0;
  return {
    async custom(sql, args) {
      return (await run(`EXPLAIN ${bind(sql, args)}`)).join('\n');
    },
    async generic(sql, types, args) {
      const name = `plan_test_${n++}`;
      await run(`PREPARE ${name} ${types} AS ${sql}`);
      await run('SET plan_cache_mode = force_generic_plan');
      try {
        const values = args.map((v) => (v.startsWith('{') ? `'${v}'` : lit(v))).join(', ');
        return (await run(`EXPLAIN EXECUTE ${name}(${values})`)).join('\n');
      } finally {
        await run('RESET plan_cache_mode');
        await run(`DEALLOCATE ${name}`);
      }
    },
    close: async () => {
      await conn?.end();
    },
  };
}

for (const backend of BACKENDS) {
  describe(`query plans on a new database (${backend})`, () => {
    const holder: { srv?: RunningServer; drop?: () => Promise<void>; url?: string } = {};
    beforeAll(async () => {
      if (backend === 'postgres') {
        const db = await freshDatabase();
        holder.drop = db.drop;
        holder.url = db.url;
        holder.srv = await startServer({ port: 0, host: '127.0.0.1', databaseUrl: db.url });
      } else {
        holder.srv = await startServer({ port: 0, host: '127.0.0.1', memory: true });
      }
    });
    afterAll(async () => {
      await holder.srv?.close();
      await holder.drop?.();
    });

    it('looks runs up by runs_external and customers by their primary key after an ingest', async () => {
      const srv = holder.srv as RunningServer;
      for (const t of ['runs', 'customers', 'workflows']) {
        await srv.store.query(`ALTER TABLE ${t} SET (autovacuum_enabled = off)`);
      }
      const keys = await srv.store.createProject();
      const call = client(srv, keys.apiKey);
      // A large customer table, written directly (the API would take minutes), then runs through the API.
      await srv.store.query(
        `INSERT INTO customers (id, project_id, mode, external_customer_id)
         SELECT 'cus_plan_' || g, $1, 'test', 'plan-' || g FROM generate_series(1, 3000) AS g`,
        [keys.projectId],
      );
      for (let b = 0; b < 4; b++) {
        const runs = Array.from({ length: 500 }, (_, i) => ({
          customerId: `cus_plan_${1 + ((b * 500 + i) % 3000)}`,
          workflow: 'plan-flow',
          status: 'COMPLETED',
          externalRunId: `plan-ext-${b * 500 + i}`,
          events: [{ eventType: 'step', quantity: 1 }],
        }));
        const res = await call('POST', '/runs/record/bulk', { runs });
        expect(res.status).toBe(200);
        expect((res.body.results as { status: number }[]).every((r) => r.status === 201)).toBe(true);
      }

      const plans = await planner(backend, srv, holder.url);
      try {
        const scope = [keys.projectId, 'test'];
        const current = async () => ({
          runCustom: await plans.custom(RUN_BY_EXTERNAL_ID, [...scope, 'plan-ext-1234']),
          runGeneric: await plans.generic(RUN_BY_EXTERNAL_ID, '(text, text, text)', [
            ...scope,
            'plan-ext-1234',
          ]),
          runIdGeneric: await plans.generic(RUN_ID_BY_EXTERNAL_ID, '(text, text, text)', [
            ...scope,
            'plan-ext-1234',
          ]),
          customerCustom: await plans.custom(CUSTOMER_BY_ID, ['cus_plan_77', ...scope]),
          customerGeneric: await plans.generic(CUSTOMER_BY_ID, '(text, text, text)', [
            'cus_plan_77',
            ...scope,
          ]),
          customersGeneric: await plans.generic(CUSTOMERS_BY_IDS, '(text, text, text[])', [
            ...scope,
            '{cus_plan_5,cus_plan_77}',
          ]),
        });
        const RUN = /Index Scan using runs_external on runs/;
        // `id = ANY($3)` with an unknown array may be a bitmap scan: of the same index.
        const CUSTOMER = /(Index Scan using|Bitmap Index Scan on) customers_pkey\b/;
        const good = (o: Awaited<ReturnType<typeof current>>) =>
          [o.runCustom, o.runGeneric, o.runIdGeneric].every((p) => RUN.test(p)) &&
          [o.customerCustom, o.customerGeneric, o.customersGeneric].every((p) => CUSTOMER.test(p));
        // The server analyses after its responses: wait for it (bounded, 20 s), then check every plan.
        let out = await current();
        for (let i = 0; i < 200 && !good(out); i++) {
          await new Promise((r) => setTimeout(r, 100));
          out = await current();
        }
        expect(out.runCustom).toMatch(RUN);
        expect(out.runGeneric).toMatch(RUN);
        expect(out.runIdGeneric).toMatch(RUN);
        expect(out.customerCustom).toMatch(CUSTOMER);
        expect(out.customerGeneric).toMatch(CUSTOMER);
        expect(out.customersGeneric).toMatch(CUSTOMER);
      } finally {
        await plans.close();
      }

      // The lookups answer as before: a replay of a stored run, and 409 for a started duplicate.
      const replay = await call('POST', '/runs/record', {
        customerId: 'cus_plan_1235',
        workflow: 'plan-flow',
        status: 'COMPLETED',
        externalRunId: 'plan-ext-1234',
        events: [{ eventType: 'step', quantity: 1 }],
      });
      expect(replay.status).toBe(201);
      expect(replay.body.isDuplicate).toBe(true);
      const stats = await srv.store.query<{ reltuples: number }>(
        "SELECT reltuples FROM pg_class WHERE relname = 'runs'",
      );
      expect(Number(stats[0]?.reltuples)).toBeGreaterThan(0);
    });
  });
}

import type { Queryable, Scope } from '../context';
import { ApiError } from '../http';

type Row = Record<string, unknown>;

/** Builds `WHERE project_id = $1 AND mode = $2 AND ...` with parameters. */
export class Where {
  readonly params: unknown[];
  private readonly parts: string[];
  constructor(scope: Scope, alias = '') {
    const p = alias ? `${alias}.` : '';
    this.params = [scope.projectId, scope.mode];
    this.parts = [`${p}project_id = $1`, `${p}mode = $2`];
  }
  add(sqlWithPlaceholder: string, value: unknown): this {
    if (value === undefined) return this;
    this.params.push(value);
    this.parts.push(sqlWithPlaceholder.replaceAll('?', `$${this.params.length}`));
    return this;
  }
  toString(): string {
    return `WHERE ${this.parts.join(' AND ')}`;
  }
}

/** Runs a paged list: rows plus the total count (spec §2.8). */
export async function pagedList(
  db: Queryable,
  selectSql: string,
  fromWhereSql: string,
  where: Where,
  order: string,
  limit: number,
  offset: number,
): Promise<{ rows: Row[]; count: number }> {
  const n = where.params.length;
  const rows = await db.query(
    `${selectSql} ${fromWhereSql} ${where} ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2}`,
    [...where.params, limit, offset],
  );
  const [c] = await db.query<{ n: unknown }>(`SELECT count(*) AS n ${fromWhereSql} ${where}`, where.params);
  return { rows, count: Number(c?.n ?? 0) };
}

/**
 * 404 `CUSTOMER_NOT_FOUND` naming the id that was asked for (`customerId` or `externalCustomerId` in the
 * answer), so a client's log line and the dashboard's problems panel can say which customer.
 */
export function customerNotFound(ref: {
  customerId?: string | undefined;
  externalCustomerId?: string | undefined;
}): ApiError {
  const extra =
    ref.customerId !== undefined
      ? { customerId: ref.customerId }
      : { externalCustomerId: ref.externalCustomerId };
  return new ApiError(404, 'CUSTOMER_NOT_FOUND', 'Customer not found', { extra });
}

/** A customer of the scope, or 404 CUSTOMER_NOT_FOUND. */
export async function getCustomer(db: Queryable, scope: Scope, id: string, forUpdate = false): Promise<Row> {
  const [row] = await db.query(
    `SELECT * FROM customers WHERE id = $1 AND project_id = $2 AND mode = $3${forUpdate ? ' FOR UPDATE' : ''}`,
    [id, scope.projectId, scope.mode],
  );
  if (!row) throw customerNotFound({ customerId: id });
  return row;
}

/** Resolves `customerId` or `externalCustomerId` (exactly one must be given). */
export async function resolveCustomer(
  db: Queryable,
  scope: Scope,
  ref: { customerId?: string | undefined; externalCustomerId?: string | undefined },
  forUpdate = false,
): Promise<Row> {
  const lock = forUpdate ? ' FOR UPDATE' : '';
  if (ref.customerId !== undefined) return getCustomer(db, scope, ref.customerId, forUpdate);
  const [row] = await db.query(
    `SELECT * FROM customers WHERE external_customer_id = $1 AND project_id = $2 AND mode = $3${lock}`,
    [ref.externalCustomerId, scope.projectId, scope.mode],
  );
  if (!row) throw customerNotFound(ref);
  return row;
}

export const validationError = (path: string, message: string) =>
  new ApiError(422, 'VALIDATION_ERROR', 'Invalid request body', { details: [{ path, message }] });

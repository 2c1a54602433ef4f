/**
 * Pagination of the client's list methods: offset pages (stop on a short page, `hasMore: false`, or a page
 * of only repeats; never trust `count`) and timeline cursors (stop on a repeated cursor).
 */

import type { CallOptions, ListResult, TimelineEvent, Workflow } from '../types';
import { callOptions } from './executor';

/**
 * Every item of an offset-paginated source, page by page (`page(offset, limit)`), each id once.
 */
export function paginateByOffset<T extends { id: string }>(
  page: (offset: number, limit: number) => Promise<ListResult<T>>,
  limit: number,
): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const seen = new Set<string>();
      let offset = 0;
      for (;;) {
        const current = await page(offset, limit);
        let fresh = 0;
        for (const item of current.data) {
          if (seen.has(item.id)) continue;
          seen.add(item.id);
          fresh += 1;
          yield item;
        }
        // Stop on a short page or hasMore === false; never rely on count. A page of only repeats
        // means the server ignores offset: stop instead of looping.
        if (current.data.length < limit || current.hasMore === false || fresh === 0) return;
        offset += current.data.length;
      }
    },
  };
}

/**
 * Every item of a one-page list method (`list(options)`), starting from `options`, page size
 * `options.limit` or `defaultLimit`.
 */
export function listAllPages<T extends { id: string }, O extends { limit?: number | undefined }>(
  list: (o: O & { offset: number; limit: number }) => Promise<ListResult<T>>,
  options: O,
  defaultLimit: number,
): AsyncIterable<T> {
  return paginateByOffset(
    (offset, limit) => list({ ...options, offset, limit }),
    options.limit ?? defaultLimit,
  );
}

/** Every event of a cursor-paginated timeline, each id once; stops when a cursor comes back. */
export function followTimelineCursors(
  page: (cursor: string | undefined) => Promise<{
    events: TimelineEvent[];
    hasMore: boolean;
    nextCursor: string | null;
  }>,
): AsyncIterable<TimelineEvent> {
  return {
    async *[Symbol.asyncIterator]() {
      const seen = new Set<string>();
      const cursors = new Set<string>();
      let cursor: string | undefined;
      for (;;) {
        const current = await page(cursor);
        for (const event of current.events) {
          if (seen.has(event.id)) continue;
          seen.add(event.id);
          yield event;
        }
        if (!current.hasMore || !current.nextCursor || cursors.has(current.nextCursor)) return;
        cursors.add(current.nextCursor);
        cursor = current.nextCursor;
      }
    },
  };
}

/** The workflow with this id or slug, looked up through every page of `listAllWorkflows`. */
export async function findWorkflow(
  client: { listAllWorkflows(options: CallOptions): AsyncIterable<Workflow> },
  idOrSlug: string,
  options?: CallOptions,
): Promise<Workflow | undefined> {
  for await (const workflow of client.listAllWorkflows(callOptions(options))) {
    if (workflow.id === idOrSlug || workflow.slug === idOrSlug) return workflow;
  }
  return undefined;
}

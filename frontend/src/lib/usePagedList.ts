import { useCallback, useEffect, useRef, useState } from 'react';

import type { Id, Page } from './api/types';
import { useResource } from './useResource';

type PageLoader<T> = (page: string | null, signal: AbortSignal) => Promise<Page<T>>;

/** The pages after the first, for one first page (a reload starts over). */
type More<T> = { first: Page<T>; pages: Page<T>[]; loading: boolean; error: unknown };

export type PagedList<T> =
  | { status: 'loading'; reload: () => void }
  | { status: 'error'; error: unknown; reload: () => void }
  | {
      status: 'ok';
      items: T[];
      hasMore: boolean;
      loadingMore: boolean;
      moreError: unknown;
      loadMore: () => void;
      /** Where the last page loaded on demand starts in `items`, and how many it added. */
      lastBatch: { from: number; size: number } | null;
      reload: () => void;
    };

function merge<T extends { id: Id }>(pages: Page<T>[]): { items: T[]; lastBatch: { from: number; size: number } | null } {
  const seen = new Set<Id>();
  const items: T[] = [];
  let from = 0;
  for (const page of pages) {
    from = items.length;
    // Numbered pages shift when rows are added meanwhile; show each item once.
    for (const item of page.items) {
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      items.push(item);
    }
  }
  return { items, lastBatch: pages.length > 1 ? { from, size: items.length - from } : null };
}

/**
 * A list the server pages: the first page on mount, the next one each time
 * `loadMore` is called, until the server says there is none. `load` must be
 * memoised (useCallback); a new one starts over.
 */
export function usePagedList<T extends { id: Id }>(load: PageLoader<T>): PagedList<T> {
  const [first, reload] = useResource(useCallback((signal: AbortSignal) => load(null, signal), [load]));
  const [more, setMore] = useState<More<T> | null>(null);
  const inFlight = useRef<AbortController | null>(null);

  useEffect(() => () => inFlight.current?.abort(), []);

  const firstPage = first.status === 'ok' ? first.data : null;
  const current = more && more.first === firstPage ? more : null;
  const last = current?.pages.at(-1) ?? firstPage;
  const nextPage = last?.nextPage ?? null;
  const loading = current?.loading ?? false;

  const loadMore = useCallback(() => {
    if (!firstPage || nextPage === null || loading) return;
    const controller = new AbortController();
    inFlight.current = controller;
    const pages = current?.pages ?? [];
    setMore({ first: firstPage, pages, loading: true, error: null });
    load(nextPage, controller.signal).then(
      (page) => setMore({ first: firstPage, pages: [...pages, page], loading: false, error: null }),
      (error: unknown) => {
        if (!controller.signal.aborted) setMore({ first: firstPage, pages, loading: false, error });
      },
    );
  }, [load, firstPage, current, nextPage, loading]);

  if (first.status === 'loading') return { status: 'loading', reload };
  if (first.status === 'error') return { status: 'error', error: first.error, reload };
  return {
    status: 'ok',
    ...merge([first.data, ...(current?.pages ?? [])]),
    hasMore: nextPage !== null,
    loadingMore: loading,
    moreError: current?.error ?? null,
    loadMore,
    reload,
  };
}

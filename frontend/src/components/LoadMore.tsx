import { useEffect, useRef, type RefObject } from 'react';

import type { PagedList } from '../lib/usePagedList';
import { LoadError } from './LoadError';

type LoadedList = Extract<PagedList<unknown>, { status: 'ok' }>;

/**
 * The "Load more" button under a paged list, and a polite announcement of what
 * each click added. The button stays focusable while a page loads (disabling it
 * would drop keyboard focus); once the last page is in and the button goes,
 * focus moves to the first item that page added.
 */
export function LoadMore({
  list,
  noun,
  items,
}: {
  list: LoadedList;
  /** What the items are, one and many: ['event', 'events']. */
  noun: readonly [string, string];
  /** The element whose children are the items, in order. */
  items: RefObject<HTMLElement | null>;
}) {
  const [one, many] = noun;
  const { hasMore, loadingMore, moreError, loadMore, lastBatch } = list;
  const focusAfterLoad = useRef(false);

  useEffect(() => {
    if (!focusAfterLoad.current || loadingMore || hasMore || !lastBatch) return;
    focusAfterLoad.current = false;
    const item = items.current?.children[lastBatch.from];
    if (!(item instanceof HTMLElement)) return;
    const target = item.querySelector<HTMLElement>('a[href], button');
    if (target) return target.focus();
    // An item with nothing to focus in it (a table row) takes focus itself, outside the tab order.
    item.setAttribute('tabindex', '-1');
    item.focus();
  }, [items, hasMore, loadingMore, lastBatch]);

  const announcement = lastBatch
    ? `${lastBatch.size} more ${lastBatch.size === 1 ? one : many} loaded.${hasMore ? '' : ` All ${many} are shown.`}`
    : '';

  return (
    <div className="load-more">
      <p role="status" className="visually-hidden">
        {loadingMore ? '' : announcement}
      </p>
      {moreError ? <LoadError error={moreError} onRetry={loadMore} /> : null}
      {hasMore ? (
        <button
          type="button"
          className="button button-secondary"
          aria-disabled={loadingMore || undefined}
          onClick={(event) => {
            if (loadingMore) return;
            focusAfterLoad.current = document.activeElement === event.currentTarget;
            loadMore();
          }}
        >
          {loadingMore ? `Loading more ${many}…` : 'Load more'}
        </button>
      ) : null}
    </div>
  );
}

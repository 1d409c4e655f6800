import { useRef, type ReactNode } from 'react';

import type { Id } from '../lib/api/types';
import type { PagedList } from '../lib/usePagedList';
import { LoadError } from './LoadError';
import { LoadMore } from './LoadMore';
import { Loading } from './Loading';

/** A paged list shown as cards: loading, the error with a retry, the empty state, then the cards and "Load more". */
export function PagedCards<T extends { id: Id }>({
  list,
  loadingLabel,
  empty,
  noun,
  children,
}: {
  list: PagedList<T>;
  loadingLabel: string;
  empty: ReactNode;
  /** What the items are, one and many: ['event', 'events']. */
  noun: readonly [string, string];
  /** One card's content. */
  children: (item: T) => ReactNode;
}) {
  const cards = useRef<HTMLUListElement>(null);

  if (list.status === 'loading') return <Loading label={loadingLabel} />;
  if (list.status === 'error') return <LoadError error={list.error} onRetry={list.reload} />;
  if (list.items.length === 0) return <p className="empty">{empty}</p>;
  return (
    <>
      <ul className="cards" ref={cards}>
        {list.items.map((item) => (
          <li key={item.id} className="card">
            {children(item)}
          </li>
        ))}
      </ul>
      <LoadMore list={list} noun={noun} items={cards} />
    </>
  );
}

import { useRef } from 'react';
import { Link } from 'react-router';

import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { links } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { formatDateTime } from '../lib/format';
import { usePagedList } from '../lib/usePagedList';

export default function PublicEventsPage() {
  const events = usePagedList(api.publicEvents.list);
  const list = useRef<HTMLUListElement>(null);

  return (
    <section>
      <PageHeading>Live events</PageHeading>
      {events.status === 'loading' ? <Loading label="Loading live events…" /> : null}
      {events.status === 'error' ? <LoadError error={events.error} onRetry={events.reload} /> : null}
      {events.status === 'ok' && events.items.length === 0 ? <p className="empty">No live events yet.</p> : null}
      {events.status === 'ok' && events.items.length > 0 ? (
        <>
          <ul className="cards" ref={list}>
            {events.items.map((event) => (
              <li key={event.id} className="card">
                <div className="card-main">
                  <h2>
                    <Link to={links.publicEvent(event.id)}>{event.title}</Link>
                  </h2>
                  <p className="meta">
                    <time dateTime={event.starts_at}>{formatDateTime(event.starts_at)}</time>
                    {event.location ? ` · ${event.location}` : null}
                  </p>
                  {event.description ? <p className="description">{event.description}</p> : null}
                </div>
              </li>
            ))}
          </ul>
          <LoadMore list={events} noun={['event', 'events']} items={list} />
        </>
      ) : null}
    </section>
  );
}

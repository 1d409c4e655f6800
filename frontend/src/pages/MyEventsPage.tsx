import { useRef } from 'react';
import { Link, useLocation } from 'react-router';

import { EventStatusBadge } from '../components/EventStatusBadge';
import { LoadError } from '../components/LoadError';
import { LoadMore } from '../components/LoadMore';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { links, paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { formatDateTime } from '../lib/format';
import { usePagedList } from '../lib/usePagedList';

/** What the event page says when it sends the organiser back here. */
export type MyEventsState = { deleted?: string };

export default function MyEventsPage() {
  const events = usePagedList(api.events.mine);
  const list = useRef<HTMLUListElement>(null);
  const deleted = (useLocation().state as MyEventsState | null)?.deleted;

  return (
    <section>
      <div className="page-heading">
        <PageHeading>My events</PageHeading>
        <Link to={paths.newEvent} className="button">
          New event
        </Link>
      </div>
      {deleted ? (
        <p role="status" className="success">
          “{deleted}” was deleted.
        </p>
      ) : null}
      {events.status === 'loading' ? <Loading label="Loading your events…" /> : null}
      {events.status === 'error' ? <LoadError error={events.error} onRetry={events.reload} /> : null}
      {events.status === 'ok' && events.items.length === 0 ? (
        <p className="empty">
          You have no events yet. <Link to={paths.newEvent}>Create your first event</Link>.
        </p>
      ) : null}
      {events.status === 'ok' && events.items.length > 0 ? (
        <>
          <ul className="cards" ref={list}>
            {events.items.map((event) => (
              <li key={event.id} className="card">
                <div className="card-main">
                  <h2>
                    <Link to={links.event(event.id)}>{event.title}</Link>
                  </h2>
                  <p className="meta">
                    <time dateTime={event.starts_at}>{formatDateTime(event.starts_at)}</time>
                    {event.location ? ` · ${event.location}` : null}
                  </p>
                </div>
                <div className="card-side">
                  <EventStatusBadge event={event} />
                  {event.status === 'draft' ? (
                    <Link
                      to={links.payment(event.id)}
                      className="button button-small"
                      aria-label={`Pay to activate ${event.title}`}
                    >
                      Pay to activate
                    </Link>
                  ) : null}
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

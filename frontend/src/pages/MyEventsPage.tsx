import { useCallback } from 'react';
import { Link } from 'react-router';

import { LoadError } from '../components/LoadError';
import { EventStatusBadge } from '../components/EventStatusBadge';
import { Loading } from '../components/Loading';
import { links, paths } from '../config/paths';
import { api } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { useResource } from '../lib/useResource';

export default function MyEventsPage() {
  const [events, reload] = useResource(useCallback((signal: AbortSignal) => api.events.mine(signal), []));

  return (
    <section>
      <div className="page-heading">
        <h1>My events</h1>
        <Link to={paths.newEvent} className="button">
          New event
        </Link>
      </div>
      {events.status === 'loading' ? <Loading label="Loading your events…" /> : null}
      {events.status === 'error' ? <LoadError error={events.error} onRetry={reload} /> : null}
      {events.status === 'ok' && events.data.length === 0 ? (
        <p className="empty">
          You have no events yet. <Link to={paths.newEvent}>Create your first event</Link>.
        </p>
      ) : null}
      {events.status === 'ok' && events.data.length > 0 ? (
        <ul className="cards">
          {events.data.map((event) => (
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
                {event.is_active ? null : (
                  <Link
                    to={links.payment(event.id)}
                    className="button button-small"
                    aria-label={`Pay to activate ${event.title}`}
                  >
                    Pay to activate
                  </Link>
                )}
              </div>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

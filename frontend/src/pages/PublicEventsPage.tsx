import { useCallback } from 'react';

import { LoadError } from '../components/LoadError';
import { Loading } from '../components/Loading';
import { api } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { useResource } from '../lib/useResource';

export default function PublicEventsPage() {
  const [events, reload] = useResource(useCallback((signal: AbortSignal) => api.events.live(signal), []));

  return (
    <section>
      <h1>Live events</h1>
      {events.status === 'loading' ? <Loading label="Loading live events…" /> : null}
      {events.status === 'error' ? <LoadError error={events.error} onRetry={reload} /> : null}
      {events.status === 'ok' && events.data.length === 0 ? <p className="empty">No live events yet.</p> : null}
      {events.status === 'ok' && events.data.length > 0 ? (
        <ul className="cards">
          {events.data.map((event) => (
            <li key={event.id} className="card">
              <div className="card-main">
                <h2>{event.title}</h2>
                <p className="meta">
                  <time dateTime={event.starts_at}>{formatDateTime(event.starts_at)}</time>
                  {event.location ? ` · ${event.location}` : null}
                </p>
                {event.description ? <p className="description">{event.description}</p> : null}
              </div>
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

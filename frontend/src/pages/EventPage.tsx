import { useCallback } from 'react';
import { Link, useParams } from 'react-router';

import { Alert } from '../components/Alert';
import { errorMessage } from '../components/errorMessage';
import { EventStatusBadge } from '../components/EventStatusBadge';
import { Loading } from '../components/Loading';
import { links, paths } from '../config/paths';
import { api } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { useResource } from '../lib/useResource';

export default function EventPage() {
  const { eventId = '' } = useParams();
  const [event] = useResource(useCallback((signal: AbortSignal) => api.events.get(eventId, signal), [eventId]));

  if (event.status === 'loading') return <Loading label="Loading the event…" />;
  if (event.status === 'error') {
    return (
      <section>
        <h1>Event</h1>
        <Alert>{errorMessage(event.error)}</Alert>
        <p>
          <Link to={paths.myEvents}>Back to my events</Link>
        </p>
      </section>
    );
  }

  const { data } = event;
  return (
    <section>
      <div className="page-heading">
        <h1>{data.title}</h1>
        <EventStatusBadge event={data} />
      </div>
      <p className="meta">
        <time dateTime={data.starts_at}>{formatDateTime(data.starts_at)}</time>
        {data.location ? ` · ${data.location}` : null}
      </p>
      {data.description ? <p className="description">{data.description}</p> : null}
      {data.is_active ? (
        <p>
          This event is live and listed on the <Link to={paths.home}>public events page</Link>.
        </p>
      ) : (
        <p>
          <Link to={links.payment(data.id)} className="button">
            Pay to activate
          </Link>
        </p>
      )}
      <p>
        <Link to={paths.myEvents}>Back to my events</Link>
      </p>
    </section>
  );
}

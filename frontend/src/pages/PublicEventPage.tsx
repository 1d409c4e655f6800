import { useCallback } from 'react';
import { Link, useParams } from 'react-router';

import { EventStatusBadge } from '../components/EventStatusBadge';
import { EventWhenWhere } from '../components/EventWhenWhere';
import { LoadError } from '../components/LoadError';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { ApiError } from '../lib/api/http';
import { useResource } from '../lib/useResource';

/** An event's shareable page: anyone may open it while the event is live, or once it is cancelled. */
export default function PublicEventPage() {
  const { eventId = '' } = useParams();
  const [event, reload] = useResource(
    useCallback((signal: AbortSignal) => api.publicEvents.get(eventId, signal), [eventId]),
  );

  if (event.status === 'loading') return <Loading label="Loading the event…" />;
  if (event.status === 'error' && event.error instanceof ApiError && event.error.status === 404) {
    return (
      <section className="narrow">
        <PageHeading>Event not found</PageHeading>
        <p>This event does not exist, or it is not open to the public.</p>
        <p>
          <Link to={paths.home}>See the live events</Link>
        </p>
      </section>
    );
  }
  if (event.status === 'error') {
    return (
      <section className="narrow">
        <PageHeading>Event</PageHeading>
        <LoadError error={event.error} onRetry={reload} />
      </section>
    );
  }

  const { data } = event;
  return (
    <article className="narrow">
      <div className="page-heading">
        <PageHeading>{data.title}</PageHeading>
        <EventStatusBadge event={data} />
      </div>
      {data.status === 'cancelled' ? (
        <p className="notice">
          Cancelled: this event will not take place.
        </p>
      ) : null}
      <EventWhenWhere event={data} />
      {data.description ? <p className="description">{data.description}</p> : null}
      <p>
        <Link to={paths.home}>See all live events</Link>
      </p>
    </article>
  );
}

import { Link, useLocation } from 'react-router';

import { EventStatusBadge } from '../components/EventStatusBadge';
import { EventWhenWhere } from '../components/EventWhenWhere';
import { PageHeading } from '../components/PageHeading';
import { PagedCards } from '../components/PagedCards';
import { links, paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { usePagedList } from '../lib/usePagedList';

/** What the event page says when it sends the organiser back here. */
export type MyEventsState = { deleted?: string };

export default function MyEventsPage() {
  const events = usePagedList(api.events.mine);
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
      <PagedCards
        list={events}
        loadingLabel="Loading your events…"
        empty={
          <>
            You have no events yet. <Link to={paths.newEvent}>Create your first event</Link>.
          </>
        }
        noun={['event', 'events']}
      >
        {(event) => (
          <>
            <div className="card-main">
              <h2>
                <Link to={links.event(event.id)}>{event.title}</Link>
              </h2>
              <EventWhenWhere event={event} />
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
          </>
        )}
      </PagedCards>
    </section>
  );
}

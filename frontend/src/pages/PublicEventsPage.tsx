import { Link } from 'react-router';

import { EventWhenWhere } from '../components/EventWhenWhere';
import { PageHeading } from '../components/PageHeading';
import { PagedCards } from '../components/PagedCards';
import { links } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { usePagedList } from '../lib/usePagedList';

export default function PublicEventsPage() {
  const events = usePagedList(api.publicEvents.list);

  return (
    <section>
      <PageHeading>Live events</PageHeading>
      <PagedCards
        list={events}
        loadingLabel="Loading live events…"
        empty="No live events yet."
        noun={['event', 'events']}
      >
        {(event) => (
          <div className="card-main">
            <h2>
              <Link to={links.publicEvent(event.id)}>{event.title}</Link>
            </h2>
            <EventWhenWhere event={event} />
            {event.description ? <p className="description">{event.description}</p> : null}
          </div>
        )}
      </PagedCards>
    </section>
  );
}

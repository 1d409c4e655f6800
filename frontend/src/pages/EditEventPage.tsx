import { useCallback } from 'react';
import { Link, useNavigate, useParams } from 'react-router';

import { EventForm, type EventFormValues } from '../components/EventForm';
import { LoadError } from '../components/LoadError';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { links } from '../config/paths';
import { api } from '../lib/api/endpoints';
import type { EventChanges, EventItem } from '../lib/api/types';
import { isoToLocalDateTime, localDateTimeToIso } from '../lib/format';
import { useResource } from '../lib/useResource';
import type { EventPageState } from './EventPage';

function valuesOf(event: EventItem): EventFormValues {
  return {
    title: event.title,
    startsAt: isoToLocalDateTime(event.starts_at),
    location: event.location,
    description: event.description,
  };
}

/** Only what the organiser changed: a live event whose start has passed can still be retitled. */
function changesBetween(before: EventFormValues, after: EventFormValues): EventChanges {
  const changes: EventChanges = {};
  if (after.title !== before.title) changes.title = after.title;
  if (after.startsAt !== before.startsAt) changes.starts_at = localDateTimeToIso(after.startsAt);
  if (after.location !== before.location) changes.location = after.location;
  if (after.description !== before.description) changes.description = after.description;
  return changes;
}

export default function EditEventPage() {
  const { eventId = '' } = useParams();
  const navigate = useNavigate();
  const [event, reload] = useResource(useCallback((signal: AbortSignal) => api.events.get(eventId, signal), [eventId]));

  if (event.status === 'loading') return <Loading label="Loading the event…" />;
  if (event.status === 'error') {
    return (
      <section className="narrow">
        <PageHeading>Edit event</PageHeading>
        <LoadError error={event.error} onRetry={reload} />
      </section>
    );
  }

  const initial = valuesOf(event.data);
  async function save(values: EventFormValues) {
    const changes = changesBetween(initial, values);
    const changed = Object.keys(changes).length > 0;
    if (changed) await api.events.update(eventId, changes);
    const state: EventPageState = { saved: changed };
    void navigate(links.event(eventId), { state });
  }

  return (
    <section className="narrow">
      <PageHeading>Edit event</PageHeading>
      {event.data.status === 'live' ? (
        <p className="lede">This event is live: your changes show on its public page as soon as you save.</p>
      ) : null}
      <EventForm key={eventId} initial={initial} submitLabel="Save changes" submittingLabel="Saving…" onSubmit={save}>
        <Link to={links.event(eventId)}>Discard changes</Link>
      </EventForm>
    </section>
  );
}

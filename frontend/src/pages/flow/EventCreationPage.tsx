import { useNavigate } from 'react-router';

import { EventForm, type EventFormValues } from '../../components/EventForm';
import { PageHeading } from '../../components/PageHeading';
import { links } from '../../config/paths';
import { api } from '../../lib/api/endpoints';
import { localDateTimeToIso } from '../../lib/format';

const EMPTY: EventFormValues = { title: '', startsAt: '', location: '', description: '' };

/** Step one of the flow: the event, then straight on to paying for it. */
export default function EventCreationPage() {
  const navigate = useNavigate();

  async function create(form: EventFormValues) {
    const created = await api.events.create({
      title: form.title,
      starts_at: localDateTimeToIso(form.startsAt),
      location: form.location,
      description: form.description,
    });
    void navigate(links.payment(created.id));
  }

  return (
    <section className="narrow">
      <PageHeading>New event</PageHeading>
      <p className="lede">Describe your event. You can activate it with a one-time payment on the next step.</p>
      <EventForm
        initial={EMPTY}
        submitLabel="Create event and continue to payment"
        submittingLabel="Creating event…"
        onSubmit={create}
      />
    </section>
  );
}

import { useState } from 'react';
import { useNavigate } from 'react-router';

import { Alert } from '../../components/Alert';
import { errorMessage } from '../../components/errorMessage';
import { Field } from '../../components/Field';
import { links } from '../../config/paths';
import { api } from '../../lib/api';
import { localDateTimeToIso } from '../../lib/format';
import { useFormSubmit } from '../../lib/useFormSubmit';

type Form = { title: string; startsAt: string; location: string; description: string };

const EMPTY: Form = { title: '', startsAt: '', location: '', description: '' };

/** Step one of the flow: the event, then straight on to paying for it. */
export default function EventCreationPage() {
  const navigate = useNavigate();
  const [form, setForm] = useState<Form>(EMPTY);

  const update = (key: keyof Form) => (e: { target: { value: string } }) =>
    setForm((current) => ({ ...current, [key]: e.target.value }));

  const { submitting, error, apiError, onSubmit } = useFormSubmit(async () => {
    const created = await api.events.create({
      title: form.title,
      starts_at: localDateTimeToIso(form.startsAt),
      location: form.location,
      description: form.description,
    });
    void navigate(links.payment(created.id));
  });

  return (
    <section className="narrow">
      <h1>New event</h1>
      <p className="lede">Describe your event. You can activate it with a one-time payment on the next step.</p>
      <form onSubmit={onSubmit} noValidate>
        {error ? <Alert>{errorMessage(error)}</Alert> : null}
        <Field label="Title" required error={apiError?.field('title')}>
          {(control) => (
            <input {...control} name="title" value={form.title} onChange={update('title')} />
          )}
        </Field>
        <Field label="Date and time" required error={apiError?.field('starts_at')} hint="In your local time zone.">
          {(control) => (
            <input
              {...control}
              type="datetime-local"
              name="starts_at"
              value={form.startsAt}
              onChange={update('startsAt')}
            />
          )}
        </Field>
        <Field label="Location" error={apiError?.field('location')}>
          {(control) => <input {...control} name="location" value={form.location} onChange={update('location')} />}
        </Field>
        <Field label="Description" error={apiError?.field('description')}>
          {(control) => (
            <textarea
              {...control}
              name="description"
              rows={5}
              value={form.description}
              onChange={update('description')}
            />
          )}
        </Field>
        <button type="submit" className="button" disabled={submitting}>
          {submitting ? 'Creating event…' : 'Create event and continue to payment'}
        </button>
      </form>
    </section>
  );
}

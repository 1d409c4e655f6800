import { useState, type ReactNode } from 'react';

import { useFormSubmit } from '../lib/useFormSubmit';
import { Alert } from './Alert';
import { errorMessage } from './errorMessage';
import { Field } from './Field';

/** The form's values as typed: `startsAt` is local wall time from `<input type="datetime-local">`. */
export type EventFormValues = { title: string; startsAt: string; location: string; description: string };

type EventFormProps = {
  initial: EventFormValues;
  submitLabel: string;
  submittingLabel: string;
  onSubmit: (values: EventFormValues) => Promise<void>;
  children?: ReactNode;
};

/** An event's fields, with the API's errors next to them; used to create and to edit. */
export function EventForm({ initial, submitLabel, submittingLabel, onSubmit, children }: EventFormProps) {
  const [form, setForm] = useState<EventFormValues>(initial);
  const { submitting, error, apiError, onSubmit: handleSubmit } = useFormSubmit(() => onSubmit(form));

  const update = (key: keyof EventFormValues) => (e: { target: { value: string } }) =>
    setForm((current) => ({ ...current, [key]: e.target.value }));

  return (
    <form onSubmit={handleSubmit} noValidate>
      {error ? <Alert>{errorMessage(error)}</Alert> : null}
      <Field label="Title" required error={apiError?.field('title')}>
        {(control) => <input {...control} name="title" value={form.title} onChange={update('title')} />}
      </Field>
      <Field label="Date and time" required error={apiError?.field('starts_at')} hint="In your local time zone.">
        {(control) => (
          <input {...control} type="datetime-local" name="starts_at" value={form.startsAt} onChange={update('startsAt')} />
        )}
      </Field>
      <Field label="Location" error={apiError?.field('location')}>
        {(control) => <input {...control} name="location" value={form.location} onChange={update('location')} />}
      </Field>
      <Field label="Description" error={apiError?.field('description')}>
        {(control) => (
          <textarea {...control} name="description" rows={5} value={form.description} onChange={update('description')} />
        )}
      </Field>
      <p className="actions">
        <button type="submit" className="button" disabled={submitting}>
          {submitting ? submittingLabel : submitLabel}
        </button>
        {children}
      </p>
    </form>
  );
}

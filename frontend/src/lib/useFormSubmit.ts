import { useState, type FormEvent } from 'react';

import { ApiError } from './api/http';

/**
 * A form's submission: runs `submit` once per submit event, keeps the button
 * disabled while it runs, and keeps the error to show (field errors through
 * `apiError.field`). On success the caller navigates away, so the form stays
 * disabled; on failure it can be sent again.
 */
export function useFormSubmit(submit: () => Promise<void>) {
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function handle(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setSubmitting(true);
    setError(null);
    try {
      await submit();
    } catch (caught) {
      setError(caught);
      setSubmitting(false);
    }
  }

  return {
    submitting,
    error,
    apiError: error instanceof ApiError ? error : null,
    onSubmit: (event: FormEvent<HTMLFormElement>) => void handle(event),
  };
}

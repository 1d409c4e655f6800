import { useState } from 'react';

import { api } from '../lib/api/endpoints';
import { useFormSubmit } from '../lib/useFormSubmit';
import { Alert } from './Alert';
import { errorMessage } from './errorMessage';

/** Until the address is verified EventPay emails it nothing else; says so, with "resend". */
export function EmailVerificationBanner({ email }: { email: string }) {
  const [sent, setSent] = useState(false);
  const { submitting, error, onSubmit } = useFormSubmit(async () => {
    await api.auth.resendVerificationEmail();
    setSent(true);
  });

  return (
    <form className="notice" onSubmit={onSubmit} noValidate aria-label="Email verification">
      {error ? <Alert>{errorMessage(error)}</Alert> : null}
      <p>
        Confirm your address {email} with the link we emailed you: until then EventPay sends it no emails about your
        events or payments.
      </p>
      {sent ? <p role="status">A new link is on its way.</p> : null}
      <button type="submit" className="link-button" disabled={submitting}>
        {submitting ? 'Sending…' : 'Resend the link'}
      </button>
    </form>
  );
}

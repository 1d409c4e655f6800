import { useState } from 'react';
import { Link } from 'react-router';

import { EmailField } from '../components/AccountFields';
import { Alert } from '../components/Alert';
import { errorMessage } from '../components/errorMessage';
import { PageHeading } from '../components/PageHeading';
import { paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { useFormSubmit } from '../lib/useFormSubmit';

/** Asks for a reset link; the answer is the same whether or not the address has an account. */
export default function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const { submitting, error, apiError, onSubmit } = useFormSubmit(async () => {
    setSent((await api.auth.requestPasswordReset({ email })).detail);
  });

  return (
    <section className="narrow">
      <PageHeading>Forgot your password?</PageHeading>
      {sent ? (
        <p role="status">{sent}</p>
      ) : (
        <form onSubmit={onSubmit} noValidate>
          {error ? <Alert>{errorMessage(error)}</Alert> : null}
          <p>Enter the email address of your account: we will send you a link to set a new password.</p>
          <EmailField error={apiError?.field('email')} value={email} onChange={setEmail} />
          <button type="submit" className="button" disabled={submitting}>
            {submitting ? 'Sending…' : 'Send the link'}
          </button>
        </form>
      )}
      <p>
        <Link to={paths.logIn}>Back to log in</Link>
      </p>
    </section>
  );
}

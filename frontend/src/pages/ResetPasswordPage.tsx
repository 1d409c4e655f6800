import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';

import { PasswordField } from '../components/AccountFields';
import { Alert } from '../components/Alert';
import { errorMessage } from '../components/errorMessage';
import { PageHeading } from '../components/PageHeading';
import { paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { useFormSubmit } from '../lib/useFormSubmit';

/** The page of the emailed link: a new password, then the log-in page. */
export default function ResetPasswordPage() {
  const { uid = '', token = '' } = useParams();
  const navigate = useNavigate();
  const [password, setPassword] = useState('');
  const { submitting, error, apiError, onSubmit } = useFormSubmit(async () => {
    await api.auth.resetPassword({ uid, token, new_password: password });
    void navigate(paths.logIn, { replace: true, state: { passwordReset: true } });
  });
  const linkError = apiError?.field('token');

  return (
    <section className="narrow">
      <PageHeading>Set a new password</PageHeading>
      <form onSubmit={onSubmit} noValidate>
        {error ? <Alert>{linkError ?? errorMessage(error)}</Alert> : null}
        <PasswordField
          purpose="new"
          label="New password"
          name="new_password"
          error={apiError?.field('new_password')}
          value={password}
          onChange={setPassword}
        />
        <button type="submit" className="button" disabled={submitting}>
          {submitting ? 'Saving…' : 'Set the new password'}
        </button>
      </form>
      {linkError ? (
        <p>
          <Link to={paths.forgotPassword}>Ask for a new link</Link>
        </p>
      ) : null}
    </section>
  );
}

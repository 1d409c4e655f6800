import { useState } from 'react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router';

import { Alert } from '../components/Alert';
import { errorMessage } from '../components/errorMessage';
import { PageHeading } from '../components/PageHeading';
import { PasswordField, UsernameField } from '../components/AccountFields';
import { links, paths, safeNext } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { useAuth } from '../lib/auth';
import { useFormSubmit } from '../lib/useFormSubmit';

export default function LogInPage() {
  const { setUser } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [params] = useSearchParams();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const { submitting, error, apiError, onSubmit } = useFormSubmit(async () => {
    setUser(await api.auth.logIn({ username, password }));
    void navigate(safeNext(params.get('next')), { replace: true });
  });
  const state = location.state as { loggedOut?: boolean; passwordReset?: boolean } | null;

  return (
    <section className="narrow">
      <PageHeading>Log in</PageHeading>
      {state?.loggedOut && !error ? <p role="status">You have been logged out.</p> : null}
      {state?.passwordReset && !error ? (
        <p role="status">Your password is set: log in with it. Every other session was logged out.</p>
      ) : null}
      <form onSubmit={onSubmit} noValidate>
        {error ? <Alert>{errorMessage(error)}</Alert> : null}
        <UsernameField error={apiError?.field('username')} value={username} onChange={setUsername} />
        <PasswordField purpose="current" error={apiError?.field('password')} value={password} onChange={setPassword} />
        <button type="submit" className="button" disabled={submitting}>
          {submitting ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p>
        <Link to={paths.forgotPassword}>Forgot password?</Link>
      </p>
      <p>
        New here?{' '}
        <Link to={links.signUp(params.get('next'))}>Create an account</Link>
      </p>
    </section>
  );
}

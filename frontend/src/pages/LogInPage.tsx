import { useState } from 'react';
import { Link, useLocation, useNavigate, useSearchParams } from 'react-router';

import { Alert } from '../components/Alert';
import { errorMessage } from '../components/errorMessage';
import { PageHeading } from '../components/PageHeading';
import { TextField } from '../components/TextField';
import { links, safeNext } from '../config/paths';
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
  const loggedOut = (location.state as { loggedOut?: boolean } | null)?.loggedOut === true;

  return (
    <section className="narrow">
      <PageHeading>Log in</PageHeading>
      {loggedOut && !error ? <p role="status">You have been logged out.</p> : null}
      <form onSubmit={onSubmit} noValidate>
        {error ? <Alert>{errorMessage(error)}</Alert> : null}
        <TextField
          label="Username"
          required
          error={apiError?.field('username')}
          name="username"
          autoComplete="username"
          value={username}
          onChange={setUsername}
        />
        <TextField
          label="Password"
          required
          error={apiError?.field('password')}
          type="password"
          name="password"
          autoComplete="current-password"
          value={password}
          onChange={setPassword}
        />
        <button type="submit" className="button" disabled={submitting}>
          {submitting ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p>
        New here?{' '}
        <Link to={links.signUp(params.get('next'))}>Create an account</Link>
      </p>
    </section>
  );
}

import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';

import { Alert } from '../components/Alert';
import { errorMessage } from '../components/errorMessage';
import { PageHeading } from '../components/PageHeading';
import { EmailField, PasswordField, UsernameField } from '../components/AccountFields';
import { links, safeNext } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { useAuth } from '../lib/auth';
import { useFormSubmit } from '../lib/useFormSubmit';

export default function SignUpPage() {
  const { setUser } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { submitting, error, apiError, onSubmit } = useFormSubmit(async () => {
    setUser({ ...(await api.auth.register({ username, email, password })), email_verified: false });
    void navigate(safeNext(params.get('next')), { replace: true });
  });

  return (
    <section className="narrow">
      <PageHeading>Create your account</PageHeading>
      <form onSubmit={onSubmit} noValidate>
        {error ? <Alert>{errorMessage(error)}</Alert> : null}
        <UsernameField error={apiError?.field('username')} value={username} onChange={setUsername} />
        <EmailField error={apiError?.field('email')} value={email} onChange={setEmail} />
        <PasswordField purpose="new" error={apiError?.field('password')} value={password} onChange={setPassword} />
        <button type="submit" className="button" disabled={submitting}>
          {submitting ? 'Creating account…' : 'Sign up'}
        </button>
      </form>
      <p>
        Already have an account? <Link to={links.logIn(params.get('next'))}>Log in</Link>
      </p>
    </section>
  );
}

import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';

import { Alert } from '../components/Alert';
import { errorMessage } from '../components/errorMessage';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { ApiError } from '../lib/api/http';
import { useAuth } from '../lib/auth';

/** The page of the emailed verification link: confirms the address once, on arrival. */
export default function VerifyEmailPage() {
  const { key = '' } = useParams();
  const { user, setUser } = useAuth();
  const [result, setResult] = useState<{ ok: true } | { ok: false; message: string } | null>(null);

  useEffect(() => {
    api.auth.verifyEmail({ key }).then(
      () => setResult({ ok: true }),
      (error: unknown) =>
        setResult({ ok: false, message: (error instanceof ApiError && error.field('key')) || errorMessage(error) }),
    );
  }, [key]);

  useEffect(() => {
    if (result?.ok && user && user.email_verified === false) setUser({ ...user, email_verified: true });
  }, [result, user, setUser]);

  return (
    <section className="narrow">
      <PageHeading>Confirm your email</PageHeading>
      {result === null ? <Loading label="Confirming…" /> : null}
      {result?.ok ? <p role="status">Your email address is confirmed.</p> : null}
      {result && !result.ok ? <Alert>{result.message}</Alert> : null}
      <p>
        <Link to={paths.myEvents}>Go to my events</Link>
      </p>
    </section>
  );
}

import { startTransition, useState } from 'react';
import { useNavigate } from 'react-router';

import { PasswordField } from '../components/AccountFields';
import { Alert } from '../components/Alert';
import { errorMessage } from '../components/errorMessage';
import { PageHeading } from '../components/PageHeading';
import { paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { useAuth } from '../lib/auth';
import { useFormSubmit } from '../lib/useFormSubmit';

/** A logged-in organiser's password, and "log out everywhere" (every session and API token). */
export default function AccountPage() {
  const { setUser } = useAuth();
  const navigate = useNavigate();
  const [oldPassword, setOldPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [changed, setChanged] = useState(false);
  const change = useFormSubmit(async () => {
    setChanged(false);
    await api.auth.changePassword({ old_password: oldPassword, new_password: newPassword });
    setOldPassword('');
    setNewPassword('');
    setChanged(true);
  });
  const everywhere = useFormSubmit(async () => {
    await api.auth.logOutEverywhere();
    startTransition(() => {
      setUser(null);
      void navigate(paths.logIn, { replace: true, state: { loggedOut: true } });
    });
  });

  return (
    <section className="narrow">
      <PageHeading>Your account</PageHeading>
      <h2>Change password</h2>
      {changed ? <p role="status">Your password is changed; every other session was logged out.</p> : null}
      <form onSubmit={change.onSubmit} noValidate>
        {change.error ? <Alert>{errorMessage(change.error)}</Alert> : null}
        <PasswordField
          purpose="current"
          label="Current password"
          name="old_password"
          error={change.apiError?.field('old_password')}
          value={oldPassword}
          onChange={setOldPassword}
        />
        <PasswordField
          purpose="new"
          label="New password"
          name="new_password"
          error={change.apiError?.field('new_password')}
          value={newPassword}
          onChange={setNewPassword}
        />
        <button type="submit" className="button" disabled={change.submitting}>
          {change.submitting ? 'Saving…' : 'Change password'}
        </button>
      </form>
      <h2>Sessions</h2>
      <form onSubmit={everywhere.onSubmit} noValidate>
        {everywhere.error ? <Alert>{errorMessage(everywhere.error)}</Alert> : null}
        <p>Logs out every browser and revokes every API token of your account.</p>
        <button type="submit" className="button" disabled={everywhere.submitting}>
          {everywhere.submitting ? 'Logging out…' : 'Log out everywhere'}
        </button>
      </form>
    </section>
  );
}

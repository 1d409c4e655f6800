import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { me, mockApi } from '../test/api';
import { renderPage } from '../test/render';
import AccountPage from './AccountPage';

const page = { path: '/account', url: '/account' };

describe('AccountPage', () => {
  it('changes the password and says other sessions were logged out', async () => {
    const api = mockApi({ 'GET /api/auth/me/': { status: 200, body: me }, 'POST /api/auth/password/change/': { status: 204 } });
    renderPage(<AccountPage />, page);
    const u = userEvent.setup();

    await u.type(screen.getByLabelText(/current password/i), 'old-passphrase');
    await u.type(screen.getByLabelText(/new password/i), 'a-brand-new-passphrase');
    await u.click(screen.getByRole('button', { name: 'Change password' }));

    expect(await screen.findByRole('status')).toHaveTextContent(/every other session was logged out/);
    expect(api.calls.find((c) => c.path === '/api/auth/password/change/')?.body).toEqual({
      old_password: 'old-passphrase',
      new_password: 'a-brand-new-passphrase',
    });
  });

  it('shows a wrong current password against its field', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'POST /api/auth/password/change/': {
        status: 400,
        body: { detail: 'Invalid input.', old_password: ['The current password is not correct.'] },
      },
    });
    renderPage(<AccountPage />, page);
    const u = userEvent.setup();

    await u.type(screen.getByLabelText(/current password/i), 'wrong');
    await u.type(screen.getByLabelText(/new password/i), 'a-brand-new-passphrase');
    await u.click(screen.getByRole('button', { name: 'Change password' }));

    expect(await screen.findByText('The current password is not correct.')).toBeInTheDocument();
  });

  it('logs out everywhere, then shows the log-in page', async () => {
    const api = mockApi({ 'GET /api/auth/me/': { status: 200, body: me }, 'POST /api/auth/logout-everywhere/': { status: 204 } });
    renderPage(<AccountPage />, page);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Log out everywhere' }));

    expect(await screen.findByTestId('location')).toHaveTextContent(/^\/login$/);
    expect(api.calls.some((c) => c.method === 'POST' && c.path === '/api/auth/logout-everywhere/')).toBe(true);
  });
});

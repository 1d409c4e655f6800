import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anonymous, mockApi } from '../test/api';
import { renderPage } from '../test/render';
import LogInPage from './LogInPage';
import ResetPasswordPage from './ResetPasswordPage';

async function setPassword(password: string) {
  const u = userEvent.setup();
  await u.type(screen.getByLabelText(/new password/i), password);
  await u.click(screen.getByRole('button', { name: 'Set the new password' }));
}

const page = { path: '/reset-password/:uid/:token', url: '/reset-password/MQ/abc-123', extra: { '/login': <LogInPage /> } };

describe('ResetPasswordPage', () => {
  it('sends the link’s uid and token with the new password, then asks to log in', async () => {
    const api = mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/password/reset/confirm/': { status: 204 },
    });
    renderPage(<ResetPasswordPage />, page);

    await setPassword('a-brand-new-passphrase');

    expect(await screen.findByRole('status')).toHaveTextContent(/password is set/);
    expect(api.calls.find((c) => c.method === 'POST' && c.path === '/api/auth/password/reset/confirm/')?.body).toEqual({
      uid: 'MQ',
      token: 'abc-123',
      new_password: 'a-brand-new-passphrase',
    });
  });

  it('offers a new link when this one expired or was used', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/password/reset/confirm/': {
        status: 400,
        body: { detail: 'Invalid input.', token: ['This link has expired or was used already; ask for a new one.'] },
      },
    });
    renderPage(<ResetPasswordPage />, page);

    await setPassword('a-brand-new-passphrase');

    expect(await screen.findByRole('alert')).toHaveTextContent(/expired or was used/);
    expect(screen.getByRole('link', { name: 'Ask for a new link' })).toHaveAttribute('href', '/forgot-password');
  });
});

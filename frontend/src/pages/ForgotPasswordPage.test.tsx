import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anonymous, mockApi, throttled } from '../test/api';
import { renderPage } from '../test/render';
import ForgotPasswordPage from './ForgotPasswordPage';

const ANSWER = 'If an account uses this address, an email with a link to set a new password is on its way.';

async function ask(email: string) {
  const u = userEvent.setup();
  await u.type(screen.getByLabelText(/email/i), email);
  await u.click(screen.getByRole('button', { name: 'Send the link' }));
}

describe('ForgotPasswordPage', () => {
  it('shows the server’s answer, which never says whether the address has an account', async () => {
    const api = mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/password/reset/': { status: 202, body: { detail: ANSWER } },
    });
    renderPage(<ForgotPasswordPage />, { path: '/forgot-password', url: '/forgot-password' });

    await ask('ada@example.com');

    expect(await screen.findByRole('status')).toHaveTextContent(ANSWER);
    expect(api.calls.find((c) => c.method === 'POST' && c.path === '/api/auth/password/reset/')?.body).toEqual({ email: 'ada@example.com' });
  });

  it('says when to try again once the budget is spent', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/password/reset/': throttled(59 * 60),
    });
    renderPage(<ForgotPasswordPage />, { path: '/forgot-password', url: '/forgot-password' });

    await ask('ada@example.com');

    expect(await screen.findByRole('alert')).toHaveTextContent('Try again in 59 minutes.');
    expect(screen.getByRole('button', { name: 'Send the link' })).toBeEnabled();
  });
});

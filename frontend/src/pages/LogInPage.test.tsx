import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anonymous, mockApi, throttled, user } from '../test/api';
import { renderPage } from '../test/render';
import LogInPage from './LogInPage';

async function submit() {
  const u = userEvent.setup();
  await u.type(screen.getByLabelText(/username/i), 'ada');
  await u.type(screen.getByLabelText(/password/i), 'wrong');
  await u.click(screen.getByRole('button', { name: 'Log in' }));
}

describe('LogInPage', () => {
  it('shows the API error for bad credentials', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/login/': { status: 400, body: { non_field_errors: ['Unable to log in with provided credentials.'] } },
    });
    renderPage(<LogInPage />, { path: '/login', url: '/login' });

    await submit();

    expect(await screen.findByRole('alert')).toHaveTextContent('Unable to log in with provided credentials.');
    expect(screen.getByRole('button', { name: 'Log in' })).toBeEnabled();
  });

  it('says when to try again once the login attempts from this address are spent', async () => {
    mockApi({ 'GET /api/auth/me/': { status: 200, body: anonymous }, 'POST /api/auth/login/': throttled(45) });
    renderPage(<LogInPage />, { path: '/login', url: '/login' });

    await submit();

    expect(await screen.findByRole('alert')).toHaveTextContent('Too many attempts. Try again in 45 seconds.');
  });

  it('says when the lockout after failed logins ends', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/login/': {
        status: 429,
        headers: { 'Retry-After': '900' },
        body: { detail: 'Too many failed logins: try again in 15 minutes.' },
      },
    });
    renderPage(<LogInPage />, { path: '/login', url: '/login' });

    await submit();

    expect(await screen.findByRole('alert')).toHaveTextContent('Try again in 15 minutes.');
    expect(screen.getByRole('button', { name: 'Log in' })).toBeEnabled();
  });

  it('returns to a same-site page after logging in, never to another site', async () => {
    mockApi({ 'GET /api/auth/me/': { status: 200, body: anonymous }, 'POST /api/auth/login/': { status: 200, body: user } });
    renderPage(<LogInPage />, { path: '/login', url: '/login?next=//evil.example/' });

    await submit();

    expect(await screen.findByTestId('location')).toHaveTextContent(/^\/events$/);
  });
});

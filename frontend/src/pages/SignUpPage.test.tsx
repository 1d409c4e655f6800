import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anonymous, mockApi, throttled, user } from '../test/api';
import { renderPage } from '../test/render';
import SignUpPage from './SignUpPage';

async function submit(u = userEvent.setup()) {
  await u.type(screen.getByLabelText(/username/i), 'ada');
  await u.type(screen.getByLabelText(/email/i), 'ada@example.com');
  await u.type(screen.getByLabelText(/password/i), 'correct horse battery');
  await u.click(screen.getByRole('button', { name: 'Sign up' }));
}

describe('SignUpPage', () => {
  it('shows field errors from the API', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/register/': {
        status: 400,
        body: { username: ['A user with that username already exists.'], password: ['This password is too common.'] },
      },
    });
    renderPage(<SignUpPage />, { path: '/signup', url: '/signup' });

    await submit();

    expect(await screen.findByText('A user with that username already exists.')).toHaveAttribute('role', 'alert');
    expect(screen.getByLabelText(/password/i)).toHaveAccessibleDescription('This password is too common.');
  });

  it('says when to try again once the sign-ups from this address are spent', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/register/': throttled(52 * 60),
    });
    renderPage(<SignUpPage />, { path: '/signup', url: '/signup' });

    await submit();

    expect(await screen.findByRole('alert')).toHaveTextContent('Too many attempts. Try again in 52 minutes.');
    expect(screen.getByRole('button', { name: 'Sign up' })).toBeEnabled();
  });

  it('registers and continues to my events', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/register/': { status: 201, body: user },
    });
    renderPage(<SignUpPage />, { path: '/signup', url: '/signup' });

    await submit();

    expect(await screen.findByTestId('location')).toHaveTextContent('/events');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      username: 'ada',
      email: 'ada@example.com',
      password: 'correct horse battery',
    });
  });
});

import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { describe, expect, it } from 'vitest';

import { App } from './App';
import { mockApi, user } from './test/api';
import { CurrentLocation } from './test/render';

function renderApp(url: string) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <App />
      <CurrentLocation />
    </MemoryRouter>,
  );
}

describe('App', () => {
  it('sends anonymous visitors of a private page to log in, then back', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 403, body: { detail: 'Authentication credentials were not provided.' } },
      'POST /api/auth/login/': { status: 200, body: user },
      'GET /api/events/': { status: 200, body: [] },
    });
    renderApp('/events');

    expect(await screen.findByRole('heading', { name: 'Log in' })).toBeInTheDocument();
    expect(screen.getByTestId('location')).toHaveTextContent('/login?next=%2Fevents');

    const u = userEvent.setup();
    await u.type(screen.getByLabelText(/username/i), 'ada');
    await u.type(screen.getByLabelText(/password/i), 'secret');
    await u.click(screen.getByRole('button', { name: 'Log in' }));

    expect(await screen.findByRole('heading', { name: 'My events' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /log out ada/i })).toBeInTheDocument();
  });

  it('logs out from the header', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: user },
      'GET /api/events/': { status: 200, body: [] },
      'POST /api/auth/logout/': { status: 204 },
    });
    renderApp('/events');

    await userEvent.setup().click(await screen.findByRole('button', { name: /log out ada/i }));

    expect(await screen.findByText('You have been logged out.')).toBeInTheDocument();
    expect(screen.getByTestId('location')).toHaveTextContent('/login');
    expect(calls.some((c) => c.method === 'POST' && c.path === '/api/auth/logout/')).toBe(true);
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(within(nav).getByRole('link', { name: 'Sign up' })).toBeInTheDocument();
  });

  it('shows the public list of live events to anyone', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 403, body: { detail: 'Not logged in.' } },
      'GET /api/public/events/': {
        status: 200,
        body: [
          {
            id: 1,
            title: 'Jazz night',
            description: '',
            location: 'Cellar',
            starts_at: '2031-05-01T18:00:00Z',
            created_at: '2030-01-01T00:00:00Z',
            is_active: true,
            activated_at: '2030-01-02T00:00:00Z',
            payment_status: 'succeeded',
          },
        ],
      },
    });
    renderApp('/');

    expect(await screen.findByRole('heading', { name: 'Jazz night' })).toBeInTheDocument();
    expect(screen.getByText(/Cellar/)).toBeInTheDocument();
  });
});

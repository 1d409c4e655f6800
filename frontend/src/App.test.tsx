import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';

import { App } from './App';
import { anonymous, aPublicEvent, cursored, me, mockApi, numbered, user } from './test/api';
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
  let consoleError: MockInstance;

  beforeEach(() => {
    consoleError = vi.spyOn(console, 'error');
  });

  afterEach(() => {
    // No page may log an error on its way: a visitor's console stays clean.
    expect(consoleError).not.toHaveBeenCalled();
  });

  it('sends anonymous visitors of a private page to log in, then back', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/login/': { status: 200, body: user },
      'GET /api/events/': { status: 200, body: numbered([]) },
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
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/': { status: 200, body: numbered([]) },
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

  it('shows a visitor the live events and each one’s public page', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/': { status: 200, body: cursored([aPublicEvent({ id: 1, title: 'Jazz night', location: 'Cellar' })]) },
      'GET /api/public/events/1/': { status: 200, body: aPublicEvent({ id: 1, title: 'Jazz night', location: 'Cellar' }) },
    });
    renderApp('/');

    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(await within(nav).findByRole('link', { name: 'Log in' })).toBeInTheDocument();
    expect(await screen.findByRole('heading', { name: 'Jazz night' })).toBeInTheDocument();
    expect(screen.getByText(/Cellar/)).toBeInTheDocument();

    await userEvent.setup().click(screen.getByRole('link', { name: 'Jazz night' }));

    expect(screen.getByTestId('location')).toHaveTextContent(/^\/e\/1$/);
    expect(await screen.findByRole('link', { name: 'See all live events' })).toBeInTheDocument();
  });

  it('moves focus to the new page’s heading after each navigation, not on the first page', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/': { status: 200, body: cursored([aPublicEvent({ id: 1, title: 'Jazz night' })]) },
      'GET /api/public/events/1/': { status: 200, body: aPublicEvent({ id: 1, title: 'Jazz night' }) },
    });
    renderApp('/');
    const home = await screen.findByRole('heading', { level: 1, name: 'Live events' });
    expect(home).not.toHaveFocus();
    expect(document.title).toBe('Live events · EventPay');
    const u = userEvent.setup();

    await u.click(await screen.findByRole('link', { name: 'Jazz night' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'Jazz night' })).toHaveFocus();
    expect(document.title).toBe('Jazz night · EventPay');

    await u.click(within(screen.getByRole('navigation', { name: 'Main' })).getByRole('link', { name: 'Sign up' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'Create your account' })).toHaveFocus();
  });
});

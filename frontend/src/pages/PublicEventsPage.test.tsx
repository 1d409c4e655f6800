import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anonymous, aPublicEvent, cursored, mockApi } from '../test/api';
import { renderPage } from '../test/render';
import PublicEventsPage from './PublicEventsPage';

function renderHome() {
  return renderPage(<PublicEventsPage />, { path: '/', url: '/' });
}

const titles = () => screen.getAllByRole('listitem').map((item) => within(item).getByRole('heading').textContent);

describe('PublicEventsPage', () => {
  it('lists live events, each linking to its public page', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/': { status: 200, body: cursored([aPublicEvent({ id: 1, title: 'Jazz night' })]) },
    });
    renderHome();

    expect(await screen.findByRole('link', { name: 'Jazz night' })).toHaveAttribute('href', '/e/1');
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
  });

  it('loads more by cursor, announcing each page politely, from the keyboard', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/': { status: 200, body: cursored([aPublicEvent({ id: 1, title: 'One' })], 'c2') },
      'GET /api/public/events/?cursor=c2': {
        status: 200,
        body: cursored([aPublicEvent({ id: 2, title: 'Two' }), aPublicEvent({ id: 3, title: 'Three' })], 'c3'),
      },
      'GET /api/public/events/?cursor=c3': { status: 200, body: cursored([aPublicEvent({ id: 4, title: 'Four' })]) },
    });
    renderHome();
    await screen.findByRole('heading', { name: 'One' });
    const u = userEvent.setup();

    // Tab through the list to the button, then press Enter.
    await u.tab();
    await u.tab();
    expect(screen.getByRole('button', { name: 'Load more' })).toHaveFocus();
    await u.keyboard('{Enter}');

    expect(await screen.findByRole('heading', { name: 'Three' })).toBeInTheDocument();
    expect(screen.getByText('2 more events loaded.')).toHaveAttribute('role', 'status');
    expect(screen.getByRole('button', { name: 'Load more' })).toHaveFocus();

    await u.keyboard('{Enter}');

    expect(await screen.findByText('1 more event loaded. All events are shown.')).toBeInTheDocument();
    expect(titles()).toEqual(['One', 'Two', 'Three', 'Four']);
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Four' })).toHaveFocus();
    expect(calls.filter((c) => c.path.startsWith('/api/public/')).map((c) => c.path)).toEqual([
      '/api/public/events/',
      '/api/public/events/?cursor=c2',
      '/api/public/events/?cursor=c3',
    ]);
  });

  it('says when there is nothing live', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/': { status: 200, body: cursored([]) },
    });
    renderHome();

    expect(await screen.findByText('No live events yet.')).toBeInTheDocument();
  });
});

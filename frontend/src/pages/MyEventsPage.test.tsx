import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { anEvent, mockApi, user } from '../test/api';
import { renderPage } from '../test/render';
import MyEventsPage from './MyEventsPage';

describe('MyEventsPage', () => {
  it('shows each event’s status and a Pay to activate link on inactive ones', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: user },
      'GET /api/events/': {
        status: 200,
        body: [
          anEvent({ id: 1, title: 'Draft one' }),
          anEvent({ id: 2, title: 'Pending one', payment_status: 'pending' }),
          anEvent({ id: 3, title: 'Live one', is_active: true, payment_status: 'succeeded' }),
          anEvent({ id: 4, title: 'Failed one', payment_status: 'failed' }),
          anEvent({ id: 5, title: 'Refunded one', payment_status: 'refunded' }),
        ],
      },
    });
    renderPage(<MyEventsPage />, { path: '/events', url: '/events' });

    const items = await screen.findAllByRole('listitem');
    const rows = items.map((item) => ({
      title: within(item).getByRole('heading').textContent,
      status: item.querySelector('.badge')?.textContent,
      pay: within(item).queryByRole('link', { name: /pay to activate/i })?.getAttribute('href') ?? null,
    }));
    expect(rows).toEqual([
      { title: 'Draft one', status: 'Draft', pay: '/events/1/pay' },
      { title: 'Pending one', status: 'Payment pending', pay: '/events/2/pay' },
      { title: 'Live one', status: 'Live', pay: null },
      { title: 'Failed one', status: 'Payment failed', pay: '/events/4/pay' },
      { title: 'Refunded one', status: 'Refunded', pay: '/events/5/pay' },
    ]);
  });

  it('invites a first event when there are none', async () => {
    mockApi({ 'GET /api/auth/me/': { status: 200, body: user }, 'GET /api/events/': { status: 200, body: [] } });
    renderPage(<MyEventsPage />, { path: '/events', url: '/events' });

    expect(await screen.findByRole('link', { name: /create your first event/i })).toHaveAttribute('href', '/events/new');
  });

  it('shows a load error with a retry', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: user },
      'GET /api/events/': [{ status: 500 }, { status: 200, body: [anEvent()] }],
    });
    renderPage(<MyEventsPage />, { path: '/events', url: '/events' });

    const alert = await screen.findByRole('alert');
    within(alert).getByRole('button', { name: 'Retry' }).click();

    expect(await screen.findByRole('heading', { name: 'Spring meetup' })).toBeInTheDocument();
  });
});

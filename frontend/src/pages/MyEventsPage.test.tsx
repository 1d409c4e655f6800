import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anEvent, me, mockApi, numbered, type Reply } from '../test/api';
import { renderPage } from '../test/render';
import MyEventsPage from './MyEventsPage';

function renderMyEvents() {
  return renderPage(<MyEventsPage />, { path: '/events', url: '/events' });
}

const rows = () =>
  screen.getAllByRole('listitem').map((item) => ({
    title: within(item).getByRole('heading').textContent,
    status: [...item.querySelectorAll('.badge')].map((badge) => badge.textContent).join(', '),
    pay: within(item).queryByRole('link', { name: /pay to activate/i })?.getAttribute('href') ?? null,
  }));

describe('MyEventsPage', () => {
  it('shows each event’s status, how a draft’s payment stands, and Pay to activate on drafts only', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/': {
        status: 200,
        body: numbered([
          anEvent({ id: 1, title: 'Draft one' }),
          anEvent({ id: 2, title: 'Pending one', payment_status: 'pending' }),
          anEvent({ id: 3, title: 'Live one', status: 'live', is_active: true, payment_status: 'succeeded' }),
          anEvent({ id: 4, title: 'Failed one', payment_status: 'failed' }),
          anEvent({ id: 5, title: 'Cancelled one', status: 'cancelled', payment_status: 'succeeded' }),
        ]),
      },
    });
    renderMyEvents();

    await screen.findByRole('heading', { name: 'Draft one' });
    expect(rows()).toEqual([
      { title: 'Draft one', status: 'Draft', pay: '/events/1/pay' },
      { title: 'Pending one', status: 'Draft, Payment pending', pay: '/events/2/pay' },
      { title: 'Live one', status: 'Live', pay: null },
      { title: 'Failed one', status: 'Draft, Payment failed', pay: '/events/4/pay' },
      { title: 'Cancelled one', status: 'Cancelled', pay: null },
    ]);
    expect(screen.getByRole('link', { name: 'Live one' })).toHaveAttribute('href', '/events/3');
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
  });

  it('loads the next page on demand until there is none', async () => {
    let answerPage2: (reply: Reply) => void = () => undefined;
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/': {
        status: 200,
        body: numbered([anEvent({ id: 1, title: 'First' }), anEvent({ id: 2, title: 'Second' })], {
          nextPage: 2,
          count: 3,
        }),
      },
      'GET /api/events/?page=2': () => new Promise<Reply>((resolve) => (answerPage2 = resolve)),
    });
    renderMyEvents();
    const loadMore = await screen.findByRole('button', { name: 'Load more' });
    const u = userEvent.setup();

    await u.click(loadMore);

    const busy = screen.getByRole('button', { name: /loading more events/i });
    expect(busy).toHaveAttribute('aria-disabled', 'true');
    await u.click(busy);
    expect(calls.filter((c) => c.path === '/api/events/?page=2')).toHaveLength(1);

    // The page shifted meanwhile: "Second" comes again, and is shown once.
    answerPage2({
      status: 200,
      body: numbered([anEvent({ id: 2, title: 'Second' }), anEvent({ id: 3, title: 'Third' })], { count: 3 }),
    });

    expect(await screen.findByText('1 more event loaded. All events are shown.')).toBeInTheDocument();
    expect(rows().map((row) => row.title)).toEqual(['First', 'Second', 'Third']);
    expect(screen.queryByRole('button', { name: /load more/i })).not.toBeInTheDocument();
    // The button is gone: keyboard focus goes on to what it brought.
    expect(screen.getByRole('link', { name: 'Third' })).toHaveFocus();
  });

  it('offers a retry when the next page fails', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/': { status: 200, body: numbered([anEvent({ id: 1, title: 'First' })], { nextPage: 2 }) },
      'GET /api/events/?page=2': [
        { status: 503 },
        { status: 200, body: numbered([anEvent({ id: 2, title: 'Second' })], { nextPage: 3 }) },
      ],
    });
    renderMyEvents();
    const u = userEvent.setup();

    await u.click(await screen.findByRole('button', { name: 'Load more' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(/server had a problem/i);
    await u.click(within(alert).getByRole('button', { name: 'Retry' }));

    expect(await screen.findByRole('heading', { name: 'Second' })).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.getByText('1 more event loaded.')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Load more' })).not.toHaveAttribute('aria-disabled'));
  });

  it('invites a first event when there are none', async () => {
    mockApi({ 'GET /api/auth/me/': { status: 200, body: me }, 'GET /api/events/': { status: 200, body: numbered([]) } });
    renderMyEvents();

    expect(await screen.findByRole('link', { name: /create your first event/i })).toHaveAttribute('href', '/events/new');
  });

  it('shows a load error with a retry', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/': [{ status: 500 }, { status: 200, body: numbered([anEvent()]) }],
    });
    renderMyEvents();

    const alert = await screen.findByRole('alert');
    await userEvent.setup().click(within(alert).getByRole('button', { name: 'Retry' }));

    expect(await screen.findByRole('heading', { name: 'Spring meetup' })).toBeInTheDocument();
  });
});

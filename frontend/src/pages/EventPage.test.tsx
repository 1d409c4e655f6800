import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anEvent, aPayment, me, mockApi, numbered, type Reply } from '../test/api';
import { renderPage } from '../test/render';
import EventPage from './EventPage';
import MyEventsPage from './MyEventsPage';

function renderEvent() {
  return renderPage(<EventPage />, { path: '/events/:eventId', url: '/events/7' });
}

function eventRoutes(event: Record<string, unknown>, payments: unknown[] = [], more: Record<string, Reply> = {}) {
  return mockApi({
    'GET /api/auth/me/': { status: 200, body: me },
    'GET /api/events/7/': { status: 200, body: event },
    'GET /api/payments/?event=7': { status: 200, body: numbered(payments) },
    ...more,
  });
}

const live = anEvent({ status: 'live', is_active: true, payment_status: 'succeeded', activated_at: '2030-01-02T10:00:00Z' });

describe('EventPage', () => {
  it('offers a draft its payment, edits and deletion, but no public link yet', async () => {
    eventRoutes(anEvent({ payment_status: 'failed' }));
    renderEvent();

    expect(await screen.findByRole('heading', { level: 1, name: 'Spring meetup' })).toBeInTheDocument();
    expect(screen.getByText('Draft')).toBeInTheDocument();
    expect(screen.getByText('Payment failed')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Pay to activate' })).toHaveAttribute('href', '/events/7/pay');
    expect(screen.getByRole('link', { name: 'Edit event' })).toHaveAttribute('href', '/events/7/edit');
    expect(screen.getByRole('button', { name: 'Delete event' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Cancel event' })).not.toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Open the public page' })).not.toBeInTheDocument();
    expect(await screen.findByText('No payments yet.')).toBeInTheDocument();
  });

  it('gives a live event its shareable public link, to open or copy', async () => {
    eventRoutes(live);
    renderEvent();
    const u = userEvent.setup();

    expect(await screen.findByText('Live')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Pay to activate' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Delete event' })).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'public events page' })).toHaveAttribute('href', '/');
    expect(screen.getByRole('link', { name: 'Open the public page' })).toHaveAttribute('href', '/e/7');
    const address = screen.getByRole('textbox', { name: 'Link to the public page' });
    expect(address).toHaveValue(`${window.location.origin}/e/7`);

    await u.click(screen.getByRole('button', { name: 'Copy link' }));

    expect(await screen.findByText('Link copied.')).toBeInTheDocument();
    await expect(navigator.clipboard.readText()).resolves.toBe(`${window.location.origin}/e/7`);
  });

  it('deletes a draft once the organiser confirms', async () => {
    const { calls } = eventRoutes(anEvent(), [], {
      'DELETE /api/events/7/': { status: 204 },
      'GET /api/events/': { status: 200, body: numbered([]) },
    });
    renderPage(<EventPage />, { path: '/events/:eventId', url: '/events/7', extra: { '/events': <MyEventsPage /> } });
    const u = userEvent.setup();

    await u.click(await screen.findByRole('button', { name: 'Delete event' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete this draft?' });
    expect(within(dialog).getByRole('button', { name: 'Keep it' })).toHaveFocus();
    await u.click(within(dialog).getByRole('button', { name: 'Keep it' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);

    await u.click(screen.getByRole('button', { name: 'Delete event' }));
    await u.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Yes, delete it' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'My events' })).toBeInTheDocument();
    expect(screen.getByText('“Spring meetup” was deleted.')).toHaveAttribute('role', 'status');
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual(['/api/events/7/']);
  });

  it('shows the server’s reason when it refuses to delete', async () => {
    eventRoutes(anEvent({ payment_status: 'pending' }), [], {
      'DELETE /api/events/7/': { status: 409, body: { detail: 'A payment for this event is in progress.' } },
    });
    renderEvent();
    const u = userEvent.setup();

    await u.click(await screen.findByRole('button', { name: 'Delete event' }));
    await u.click(screen.getByRole('button', { name: 'Yes, delete it' }));

    const dialog = screen.getByRole('dialog', { name: 'Delete this draft?' });
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('A payment for this event is in progress.');
    expect(within(dialog).getByRole('button', { name: 'Yes, delete it' })).toBeEnabled();
  });

  it('cancels a live event once confirmed, and says so', async () => {
    const { calls } = eventRoutes(live, [], {
      'POST /api/events/7/cancel/': {
        status: 200,
        body: { ...live, status: 'cancelled', is_active: false, cancelled_at: '2030-02-01T10:00:00Z' },
      },
    });
    renderEvent();
    const u = userEvent.setup();

    await u.click(await screen.findByRole('button', { name: 'Cancel event' }));
    const dialog = screen.getByRole('dialog', { name: 'Cancel this event?' });
    expect(dialog).toHaveAccessibleDescription(/leaves the public list.*not refunded/i);
    await u.click(within(dialog).getByRole('button', { name: 'Yes, cancel it' }));

    const notice = await screen.findByText(/this event is cancelled/i);
    await waitFor(() => expect(notice).toHaveFocus());
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(screen.getByText('Cancelled')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Cancel event' })).not.toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Edit event' })).not.toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.path)).toEqual(['/api/events/7/cancel/']);
  });

  it('shows the server’s reason when it refuses to cancel', async () => {
    eventRoutes(live, [], { 'POST /api/events/7/cancel/': { status: 409, body: { detail: 'Only a live event can be cancelled.' } } });
    renderEvent();
    const u = userEvent.setup();

    await u.click(await screen.findByRole('button', { name: 'Cancel event' }));
    await u.click(screen.getByRole('button', { name: 'Yes, cancel it' }));

    expect(await within(screen.getByRole('dialog')).findByRole('alert')).toHaveTextContent(
      'Only a live event can be cancelled.',
    );
    expect(screen.getByText('Live')).toBeInTheDocument();
  });

  it('lists the event’s payments, with a receipt for those that went through', async () => {
    eventRoutes(live, [
      aPayment({
        id: 4,
        status: 'succeeded',
        card_brand: 'visa',
        card_last4: '4242',
        created_at: '2030-01-02T09:59:00Z',
      }),
      aPayment({ id: 3, status: 'failed', card_brand: 'visa', card_last4: '0341' }),
      aPayment({ id: 2, status: 'canceled' }),
    ]);
    renderEvent();

    const table = await screen.findByRole('table');
    const body = within(table).getAllByRole('row').slice(1);
    expect(body.map((row) => within(row).getAllByRole('cell').slice(1, 4).map((cell) => cell.textContent))).toEqual([
      ['$15.00', 'Succeeded', 'Visa ending in 4242'],
      ['$15.00', 'Failed', 'Visa ending in 0341'],
      ['$15.00', 'Canceled', '—'],
    ]);
    const receipts = within(table).getAllByRole('link', { name: /receipt/i });
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toHaveAttribute('href', '/payments/4/receipt');
  });

  it('answers an unknown event with the API’s message', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 404, body: { detail: 'Not found.' } },
    });
    renderEvent();

    expect(await screen.findByRole('alert')).toHaveTextContent('Not found.');
  });
});

import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anEvent, me, mockApi, numbered } from '../test/api';
import { renderPage } from '../test/render';
import EditEventPage from './EditEventPage';
import EventPage from './EventPage';

// Local wall time, so the test reads the same in any time zone.
const startsAt = new Date('2031-05-01T18:00').toISOString();
const event = anEvent({ starts_at: startsAt, status: 'live', is_active: true, payment_status: 'succeeded' });

function renderEdit() {
  return renderPage(<EditEventPage />, {
    path: '/events/:eventId/edit',
    url: '/events/7/edit',
    extra: { '/events/:eventId': <EventPage /> },
  });
}

describe('EditEventPage', () => {
  it('starts from the event as it is', async () => {
    mockApi({ 'GET /api/auth/me/': { status: 200, body: me }, 'GET /api/events/7/': { status: 200, body: event } });
    renderEdit();

    expect(await screen.findByLabelText(/title/i)).toHaveValue('Spring meetup');
    expect(screen.getByLabelText(/date and time/i)).toHaveValue('2031-05-01T18:00');
    expect(screen.getByLabelText(/location/i)).toHaveValue('Hall A');
    expect(screen.getByLabelText(/description/i)).toHaveValue('Talks and snacks');
    expect(screen.getByText(/changes show on its public page/i)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Discard changes' })).toHaveAttribute('href', '/events/7');
  });

  it('sends only what changed, then shows the event saved', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': [{ status: 200, body: event }, { status: 200, body: { ...event, title: 'Summer meetup' } }],
      'PATCH /api/events/7/': { status: 200, body: { ...event, title: 'Summer meetup' } },
      'GET /api/payments/?event=7': { status: 200, body: numbered([]) },
    });
    renderEdit();
    const u = userEvent.setup();
    const title = await screen.findByLabelText(/title/i);

    await u.clear(title);
    await u.type(title, 'Summer meetup');
    await u.click(screen.getByRole('button', { name: 'Save changes' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Summer meetup' })).toBeInTheDocument();
    expect(screen.getByText('Your changes are saved.')).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'PATCH').map((c) => c.body)).toEqual([{ title: 'Summer meetup' }]);
  });

  it('sends a new start time as an absolute instant', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: event },
      'PATCH /api/events/7/': { status: 200, body: event },
      'GET /api/payments/?event=7': { status: 200, body: numbered([]) },
    });
    renderEdit();
    const u = userEvent.setup();
    const when = await screen.findByLabelText(/date and time/i);

    await u.clear(when);
    await u.type(when, '2031-06-02T19:30');
    await u.click(screen.getByRole('button', { name: 'Save changes' }));

    await screen.findByText('Your changes are saved.');
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({
      starts_at: new Date('2031-06-02T19:30').toISOString(),
    });
  });

  it('shows field errors next to their fields', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: event },
      'PATCH /api/events/7/': { status: 400, body: { starts_at: ['The start time must be in the future.'] } },
    });
    renderEdit();
    const u = userEvent.setup();
    const when = await screen.findByLabelText(/date and time/i);

    await u.clear(when);
    await u.type(when, '2020-01-01T10:00');
    await u.click(screen.getByRole('button', { name: 'Save changes' }));

    expect(await screen.findByText('The start time must be in the future.')).toHaveAttribute('role', 'alert');
    expect(screen.getByLabelText(/date and time/i)).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByRole('button', { name: 'Save changes' })).toBeEnabled();
  });

  it('shows the server’s refusal when the event was cancelled meanwhile', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: event },
      'PATCH /api/events/7/': { status: 409, body: { detail: 'A cancelled event cannot be changed.' } },
    });
    renderEdit();
    const u = userEvent.setup();

    await u.type(await screen.findByLabelText(/location/i), ', first floor');
    await u.click(screen.getByRole('button', { name: 'Save changes' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('A cancelled event cannot be changed.');
  });
});

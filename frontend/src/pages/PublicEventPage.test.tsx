import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { anonymous, aPublicEvent, mockApi } from '../test/api';
import { renderPage } from '../test/render';
import PublicEventPage from './PublicEventPage';

function renderPublicEvent() {
  return renderPage(<PublicEventPage />, { path: '/e/:eventId', url: '/e/7' });
}

describe('PublicEventPage', () => {
  it('shows a live event to anyone', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/7/': { status: 200, body: aPublicEvent() },
    });
    renderPublicEvent();

    expect(await screen.findByRole('heading', { level: 1, name: 'Spring meetup' })).toBeInTheDocument();
    expect(screen.getByText('Live')).toBeInTheDocument();
    expect(screen.getByText(/Hall A/)).toBeInTheDocument();
    expect(screen.getByText('Talks and snacks')).toBeInTheDocument();
    expect(screen.queryByText(/cancelled/i)).not.toBeInTheDocument();
  });

  it('says plainly that a cancelled event is cancelled', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/7/': { status: 200, body: aPublicEvent({ status: 'cancelled' }) },
    });
    renderPublicEvent();

    expect(await screen.findByText('Cancelled')).toBeInTheDocument();
    expect(screen.getByText(/this event will not take place/i)).toBeInTheDocument();
  });

  it('answers an event that is not public with a friendly not-found', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/7/': { status: 404, body: { detail: 'Not found.' } },
    });
    renderPublicEvent();

    expect(await screen.findByRole('heading', { level: 1, name: 'Event not found' })).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'See the live events' })).toHaveAttribute('href', '/');
  });

  it('offers a retry when the server fails', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'GET /api/public/events/7/': [{ status: 503 }, { status: 200, body: aPublicEvent() }],
    });
    renderPublicEvent();

    (await screen.findByRole('button', { name: 'Retry' })).click();

    expect(await screen.findByRole('heading', { level: 1, name: 'Spring meetup' })).toBeInTheDocument();
  });
});

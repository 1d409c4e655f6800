import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { anEvent, mockApi, user } from '../test/api';
import { renderPage } from '../test/render';
import EventPage from './EventPage';

function renderEvent() {
  return renderPage(<EventPage />, { path: '/events/:eventId', url: '/events/7' });
}

describe('EventPage', () => {
  it('offers to pay for an inactive event', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: user },
      'GET /api/events/7/': { status: 200, body: anEvent({ payment_status: 'failed' }) },
    });
    renderEvent();

    expect(await screen.findByRole('heading', { name: 'Spring meetup' })).toBeInTheDocument();
    expect(screen.getByText('Payment failed')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Pay to activate' })).toHaveAttribute('href', '/events/7/pay');
  });

  it('says a live event is listed publicly', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: user },
      'GET /api/events/7/': { status: 200, body: anEvent({ is_active: true, payment_status: 'succeeded' }) },
    });
    renderEvent();

    expect(await screen.findByText('Live')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Pay to activate' })).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'public events page' })).toHaveAttribute('href', '/');
  });

  it('answers an unknown event with the API’s message', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: user },
      'GET /api/events/7/': { status: 404, body: { detail: 'Not found.' } },
    });
    renderEvent();

    expect(await screen.findByRole('alert')).toHaveTextContent('Not found.');
  });
});

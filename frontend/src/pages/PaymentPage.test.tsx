import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { anEvent, me, mockApi, throttled } from '../test/api';
import { renderPage } from '../test/render';
import { stripe } from '../test/stripe';
import PaymentPage from './PaymentPage';

vi.mock('@stripe/react-stripe-js', async () => (await import('../test/stripe')).reactStripe);
vi.mock('@stripe/stripe-js/pure', async () => ({ loadStripe: (await import('../test/stripe')).loadStripe }));

const config = { status: 200, body: { publishableKey: 'pk_test_1', offline: false, stripeJsUrl: null } };
const session = {
  clientSecret: 'pi_123_secret_abc',
  paymentId: 3,
  amount: 1500,
  currency: 'usd',
  publishableKey: 'pk_test_1',
};

function renderPayment() {
  return renderPage(<PaymentPage />, { path: '/events/:eventId/pay', url: '/events/7/pay' });
}

describe('PaymentPage', () => {
  it('creates the intent for the event and mounts Elements with its client secret', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: anEvent() },
      'POST /api/payments/create-payment-intent/': { status: 201, body: session },
      'GET /api/payments/config/': config,
    });
    renderPayment();

    expect(screen.getByRole('status')).toHaveTextContent(/preparing secure payment/i);
    expect(await screen.findByTestId('stripe-elements')).toHaveAttribute('data-client-secret', 'pi_123_secret_abc');
    expect(screen.getByText('Spring meetup')).toBeInTheDocument();
    expect(screen.getByText('$15.00')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled());
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ event_id: 7 });
  });

  it('on a reload, uses the open intent the API hands back', async () => {
    // The API answers 200 with the same intent while its payment is open.
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: anEvent({ payment_status: 'pending' }) },
      'POST /api/payments/create-payment-intent/': [
        { status: 201, body: session },
        { status: 200, body: session },
      ],
      'GET /api/payments/config/': config,
    });
    const first = renderPayment();
    expect(await screen.findByTestId('stripe-elements')).toHaveAttribute('data-client-secret', 'pi_123_secret_abc');
    first.unmount();

    renderPayment();

    expect(await screen.findByTestId('stripe-elements')).toHaveAttribute('data-client-secret', 'pi_123_secret_abc');
    expect(calls.filter((c) => c.path === '/api/payments/create-payment-intent/')).toHaveLength(2);
  });

  it('when the intent can no longer be confirmed, asks the API again and opens a fresh form on the payment it hands back', async () => {
    // Offline, the stand-in cannot confirm a declined intent again, so the API opens a new one.
    const next = { ...session, clientSecret: 'pi_456_secret_def', paymentId: 4 };
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: anEvent({ payment_status: 'pending' }) },
      'POST /api/payments/create-payment-intent/': [
        { status: 201, body: session },
        { status: 201, body: next },
      ],
      'GET /api/payments/config/': config,
    });
    stripe.confirmPayment.mockResolvedValueOnce({
      error: {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: 'The offline Stripe stand-in cannot confirm this payment again.',
      },
    });
    renderPayment();
    const pay = await screen.findByRole('button', { name: 'Pay $15.00' });
    await waitFor(() => expect(pay).toBeEnabled());

    await userEvent.setup().click(pay);

    await waitFor(() =>
      expect(screen.getByTestId('stripe-elements')).toHaveAttribute('data-client-secret', 'pi_456_secret_def'),
    );
    expect(screen.getByRole('alert')).toHaveTextContent(/enter your card again/);
    expect(calls.filter((c) => c.path === '/api/payments/create-payment-intent/')).toHaveLength(2);
  });

  it('on 409 for an event that went live meanwhile, says it is already active and links to its status', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': [
        { status: 200, body: anEvent() },
        { status: 200, body: anEvent({ status: 'live', is_active: true, payment_status: 'succeeded' }) },
      ],
      'POST /api/payments/create-payment-intent/': { status: 409, body: { detail: 'This event is already active.' } },
      'GET /api/payments/config/': config,
    });
    renderPayment();

    expect(await screen.findByRole('heading', { name: 'Already live' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: /see the event status/i })).toHaveAttribute('href', '/events/7');
    expect(screen.queryByTestId('stripe-elements')).not.toBeInTheDocument();
  });

  it('on 409 for an event cancelled meanwhile, says it is cancelled', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': [
        { status: 200, body: anEvent() },
        { status: 200, body: anEvent({ status: 'cancelled' }) },
      ],
      'POST /api/payments/create-payment-intent/': { status: 409, body: { detail: 'This event is cancelled.' } },
      'GET /api/payments/config/': config,
    });
    renderPayment();

    expect(await screen.findByRole('heading', { name: 'Event cancelled' })).toBeInTheDocument();
  });

  it('on 409 for an event still unpaid, gives the server’s reason and never claims it is live', async () => {
    // The organiser has as many unpaid checkouts open as the API allows.
    const detail =
      'You have 10 unpaid checkouts open: pay one of them, or wait for them to expire, before starting another.';
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: anEvent() },
      'POST /api/payments/create-payment-intent/': { status: 409, body: { detail } },
      'GET /api/payments/config/': config,
    });
    renderPayment();

    expect(await screen.findByRole('alert')).toHaveTextContent(detail);
    expect(screen.getByRole('button', { name: /try again/i })).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Already live' })).not.toBeInTheDocument();
    expect(screen.queryByTestId('stripe-elements')).not.toBeInTheDocument();
  });

  it('does not create an intent for an event that is already live', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': {
        status: 200,
        body: anEvent({ status: 'live', is_active: true, payment_status: 'succeeded' }),
      },
    });
    renderPayment();

    expect(await screen.findByText(/already active/i)).toBeInTheDocument();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
  });

  it('asks nothing for a cancelled event', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: anEvent({ status: 'cancelled', payment_status: 'succeeded' }) },
    });
    renderPayment();

    expect(await screen.findByRole('heading', { name: 'Event cancelled' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'See the event' })).toHaveAttribute('href', '/events/7');
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
  });

  it('says when to try again once the checkouts of the minute are spent', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 200, body: anEvent() },
      'GET /api/payments/config/': config,
      'POST /api/payments/create-payment-intent/': throttled(40),
    });
    renderPayment();

    expect(await screen.findByRole('alert')).toHaveTextContent('Too many attempts. Try again in 40 seconds.');
  });

  it('shows an error for an unknown event', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/events/7/': { status: 404, body: { detail: 'Not found.' } },
    });
    renderPayment();

    expect(await screen.findByRole('alert')).toHaveTextContent('Not found.');
    expect(screen.getByRole('button', { name: /try again/i })).toBeInTheDocument();
  });
});

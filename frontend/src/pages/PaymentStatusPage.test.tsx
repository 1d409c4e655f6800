import { act, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { aPayment, me, mockApi, numbered } from '../test/api';
import { renderPage } from '../test/render';
import { stripe } from '../test/stripe';
import PaymentStatusPage from './PaymentStatusPage';

vi.mock('@stripe/react-stripe-js', async () => (await import('../test/stripe')).reactStripe);
vi.mock('@stripe/stripe-js/pure', async () => ({ loadStripe: (await import('../test/stripe')).loadStripe }));

const config = { status: 200, body: { publishableKey: 'pk_test_1', offline: false, stripeJsUrl: null } };
const returnUrl =
  '/payments/status?payment_intent=pi_123&payment_intent_client_secret=pi_123_secret_abc&redirect_status=succeeded';
const pollPath = 'GET /api/payments/?payment_intent=pi_123';

function renderStatus(url = returnUrl) {
  return renderPage(<PaymentStatusPage />, { path: '/payments/status', url });
}

// Resolves once every pending promise chain (the mocked fetches) has run.
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function flush() {
  await act(settle);
}

async function advance(ms: number) {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
    await settle();
  });
}

describe('PaymentStatusPage', () => {
  beforeEach(() => {
    // Only setTimeout is faked (the page's polling); promise chains are drained with setImmediate.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls our API until the event is live', async () => {
    stripe.retrievePaymentIntent.mockResolvedValue({ paymentIntent: { id: 'pi_123', status: 'succeeded' } });
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/payments/config/': config,
      [pollPath]: [
        { status: 200, body: numbered([aPayment()]) },
        { status: 200, body: numbered([aPayment({ status: 'succeeded' })]) },
        { status: 200, body: numbered([aPayment({ status: 'succeeded', event_is_active: true })]) },
      ],
    });
    renderStatus();

    await flush();
    expect(screen.getByText('Payment received — activating your event…')).toBeInTheDocument();
    expect(stripe.retrievePaymentIntent).toHaveBeenCalledWith('pi_123_secret_abc');
    const polls = () => calls.filter((c) => c.path === '/api/payments/?payment_intent=pi_123').length;
    expect(polls()).toBe(1);

    await advance(1000);
    expect(polls()).toBe(2);
    expect(screen.getByText('Payment received — activating your event…')).toBeInTheDocument();

    await advance(1250);
    expect(polls()).toBe(3);
    expect(screen.getByText('Your event is live')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: /see your event/i })).toHaveAttribute('href', '/events/7');

    await advance(60_000);
    expect(polls()).toBe(3);
  });

  it('backs off and stops with a message if activation takes too long', async () => {
    stripe.retrievePaymentIntent.mockResolvedValue({ paymentIntent: { id: 'pi_123', status: 'succeeded' } });
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/payments/config/': config,
      [pollPath]: { status: 200, body: numbered([aPayment({ status: 'succeeded' })]) },
    });
    renderStatus();
    await flush();
    expect(screen.getByText('Payment received — activating your event…')).toBeInTheDocument();

    await advance(10 * 60_000);

    expect(screen.getByText(/taking longer than usual/i)).toBeInTheDocument();
    const polls = calls.filter((c) => c.path === '/api/payments/?payment_intent=pi_123').length;
    expect(polls).toBeLessThanOrEqual(45);
    expect(polls).toBeGreaterThan(20);
  });

  it('keeps polling through a transient API error', async () => {
    stripe.retrievePaymentIntent.mockResolvedValue({ paymentIntent: { id: 'pi_123', status: 'processing' } });
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/payments/config/': config,
      [pollPath]: [
        { status: 502 },
        { status: 200, body: numbered([aPayment({ status: 'succeeded', event_is_active: true })]) },
      ],
    });
    renderStatus();

    await flush();
    expect(screen.getByText(/your payment is processing/i)).toBeInTheDocument();
    await advance(1000);
    expect(screen.getByText('Your event is live')).toBeInTheDocument();
  });

  it('on a failed payment offers to try again on that event’s payment page', async () => {
    stripe.retrievePaymentIntent.mockResolvedValue({
      paymentIntent: {
        id: 'pi_123',
        status: 'requires_payment_method',
        last_payment_error: { message: 'Your card was declined.' },
      },
    });
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/payments/config/': config,
      [pollPath]: { status: 200, body: numbered([aPayment({ status: 'failed', event_id: 9 })]) },
    });
    renderStatus(returnUrl.replace('succeeded', 'failed'));

    await flush();
    expect(screen.getByRole('alert')).toHaveTextContent(/did not go through.*your card was declined/i);
    expect(screen.getByRole('link', { name: 'Try again' })).toHaveAttribute('href', '/events/9/pay');
  });

  it('trusts a failure recorded by the webhook while Stripe still says processing', async () => {
    stripe.retrievePaymentIntent.mockResolvedValue({ paymentIntent: { id: 'pi_123', status: 'processing' } });
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/payments/config/': config,
      [pollPath]: [
        { status: 200, body: numbered([aPayment()]) },
        { status: 200, body: numbered([aPayment({ status: 'failed', last_error: 'Insufficient funds.' })]) },
      ],
    });
    renderStatus();

    await flush();
    expect(screen.getByText(/your payment is processing/i)).toBeInTheDocument();
    await advance(1000);

    expect(screen.getByRole('alert')).toHaveTextContent('Insufficient funds.');
    expect(screen.getByRole('link', { name: 'Try again' })).toHaveAttribute('href', '/events/7/pay');
  });

  it('explains a link without payment details', () => {
    mockApi({ 'GET /api/auth/me/': { status: 200, body: me } });
    renderStatus('/payments/status');

    expect(screen.getByRole('alert')).toHaveTextContent(/missing the payment details/i);
  });
});

import type { Stripe } from '@stripe/stripe-js';
import { Elements } from '@stripe/react-stripe-js';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { CheckoutForm } from '../components/checkout/CheckoutForm';
import { mockApi } from '../test/api';
import { localstripe } from '../test/localstripe';
import { adaptStandIn } from './adapter';

const CLIENT_SECRET = 'pi_123_secret_abc';
const ROUTE = '/api/payments/offline-stripe';

function offlineStripe() {
  const navigate = vi.fn<(url: string) => void>();
  const stripe = adaptStandIn(localstripe, { navigate })('pk_offline_eventpay') as unknown as Stripe;
  return { stripe, navigate };
}

/** The stock checkout (Elements, PaymentElement, CheckoutForm) on the adapted stand-in. */
function renderCheckout() {
  const { stripe, navigate } = offlineStripe();
  render(
    <Elements stripe={stripe} options={{ clientSecret: CLIENT_SECRET }}>
      <CheckoutForm amountLabel="$15.00" />
    </Elements>,
  );
  return { stripe, navigate };
}

async function fillCard(number: string) {
  const u = userEvent.setup();
  await u.type(screen.getByLabelText('Card number'), number);
  await u.type(screen.getByLabelText('Expiry month (MM)'), '12');
  await u.type(screen.getByLabelText('Expiry year (YY)'), '34');
  await u.type(screen.getByLabelText('Security code (CVC)'), '123');
  await u.type(screen.getByLabelText('Postal code'), '10001');
  return u;
}

const intent = (status: string, extra: Record<string, unknown> = {}) => ({
  id: 'pi_123',
  object: 'payment_intent',
  client_secret: CLIENT_SECRET,
  status,
  ...extra,
});

describe('the offline Stripe adapter', () => {
  it('mounts the stand-in’s card inputs with accessible names and tells the form it is ready', async () => {
    renderCheckout();

    await waitFor(() => expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled());
    for (const name of ['Card number', 'Expiry month (MM)', 'Expiry year (YY)', 'Security code (CVC)']) {
      expect(screen.getByRole('textbox', { name })).toHaveAttribute('inputmode', 'numeric');
    }
    expect(screen.getByRole('textbox', { name: 'Postal code' })).not.toHaveAttribute('inputmode');
  });

  it('confirms a payment through the same-origin route, then goes to the return URL', async () => {
    const { calls } = mockApi({
      [`POST ${ROUTE}/v1/payment_methods`]: { status: 200, body: { id: 'pm_1', object: 'payment_method' } },
      [`POST ${ROUTE}/v1/payment_intents/pi_123`]: { status: 200, body: intent('requires_confirmation') },
      [`POST ${ROUTE}/v1/payment_intents/pi_123/confirm`]: { status: 200, body: intent('succeeded') },
    });
    const { navigate } = renderCheckout();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled());
    const u = await fillCard('4242 4242 4242 4242');

    await u.click(screen.getByRole('button', { name: 'Pay $15.00' }));

    await waitFor(() => expect(navigate).toHaveBeenCalledTimes(1));
    const returned = new URL(navigate.mock.calls[0]![0]);
    expect(returned.pathname).toBe('/payments/status');
    expect(Object.fromEntries(returned.searchParams)).toEqual({
      payment_intent: 'pi_123',
      payment_intent_client_secret: CLIENT_SECRET,
      redirect_status: 'succeeded',
    });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      `POST ${ROUTE}/v1/payment_methods`,
      `POST ${ROUTE}/v1/payment_intents/pi_123`,
      `POST ${ROUTE}/v1/payment_intents/pi_123/confirm`,
    ]);
    expect(calls[0]).toMatchObject({
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRFToken': 'test-csrf-token' },
      body: {
        client_secret: CLIENT_SECRET,
        type: 'card',
        'card[number]': '4242424242424242',
        'card[exp_month]': '12',
        'card[exp_year]': '2034',
        'card[cvc]': '123',
      },
    });
    expect(calls[1]?.body).toEqual({ client_secret: CLIENT_SECRET, payment_method: 'pm_1' });
    expect(calls[2]?.body).toEqual({ client_secret: CLIENT_SECRET });
  });

  it('shows a decline in place, as a card error, without leaving the page', async () => {
    mockApi({
      [`POST ${ROUTE}/v1/payment_methods`]: { status: 200, body: { id: 'pm_1' } },
      [`POST ${ROUTE}/v1/payment_intents/pi_123`]: { status: 200, body: intent('requires_confirmation') },
      [`POST ${ROUTE}/v1/payment_intents/pi_123/confirm`]: {
        status: 402,
        body: { error: { type: 'invalid_request_error', code: 'card_declined', message: 'Your card was declined.' } },
      },
    });
    const { navigate } = renderCheckout();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled());
    const u = await fillCard('4000000000000341');

    await u.click(screen.getByRole('button', { name: 'Pay $15.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Your card was declined.');
    expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled();
    expect(navigate).not.toHaveBeenCalled();
  });

  it('checks the card before calling anyone', async () => {
    const { calls } = mockApi({});
    renderCheckout();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled());
    const u = userEvent.setup();
    await u.type(screen.getByLabelText('Card number'), '4242');

    await u.click(screen.getByRole('button', { name: 'Pay $15.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Your card number is incomplete.');
    expect(calls).toEqual([]);
  });

  it('does not confirm an intent localstripe can no longer confirm', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { calls } = mockApi({
      [`POST ${ROUTE}/v1/payment_methods`]: { status: 200, body: { id: 'pm_2' } },
      [`POST ${ROUTE}/v1/payment_intents/pi_123`]: { status: 200, body: intent('requires_payment_method') },
    });
    renderCheckout();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled());
    const u = await fillCard('4242424242424242');

    await u.click(screen.getByRole('button', { name: 'Pay $15.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(/something went wrong while confirming your payment/i);
    expect(calls.some((c) => c.path.endsWith('/confirm'))).toBe(false);
  });

  it('retrieves a PaymentIntent by its client secret', async () => {
    const { calls } = mockApi({
      [`GET ${ROUTE}/v1/payment_intents/pi_123`]: { status: 200, body: intent('succeeded') },
    });
    const { stripe } = offlineStripe();

    await expect(stripe.retrievePaymentIntent(CLIENT_SECRET)).resolves.toEqual({ paymentIntent: intent('succeeded') });
    expect(calls[0]?.path).toBe(`${ROUTE}/v1/payment_intents/pi_123?client_secret=${CLIENT_SECRET}`);
  });

  it('answers a retrieval the server refuses, or a malformed secret, with Stripe’s error shape', async () => {
    mockApi({ [`GET ${ROUTE}/v1/payment_intents/pi_123`]: { status: 403, body: { detail: 'Invalid client secret.' } } });
    const { stripe } = offlineStripe();

    await expect(stripe.retrievePaymentIntent(CLIENT_SECRET)).resolves.toEqual({
      error: { type: 'api_error', code: 'http_403', message: 'Invalid client secret.' },
    });
    await expect(stripe.retrievePaymentIntent('nonsense')).resolves.toMatchObject({
      error: { code: 'invalid_client_secret' },
    });
  });

  it('reports an unreachable server as a connection error', async () => {
    mockApi({});
    globalThis.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
    const { stripe } = offlineStripe();

    await expect(stripe.retrievePaymentIntent(CLIENT_SECRET)).resolves.toMatchObject({
      error: { type: 'api_connection_error' },
    });
  });
});

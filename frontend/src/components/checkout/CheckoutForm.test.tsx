import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { elements, stripe } from '../../test/stripe';
import { CheckoutForm } from './CheckoutForm';

vi.mock('@stripe/react-stripe-js', async () => (await import('../../test/stripe')).reactStripe);

describe('CheckoutForm', () => {
  it('confirms the payment with a return URL to the status page', async () => {
    stripe.confirmPayment.mockReturnValue(new Promise(() => undefined));
    render(<CheckoutForm amountLabel="$15.00" />);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Pay $15.00' }));

    expect(stripe.confirmPayment).toHaveBeenCalledWith({
      elements,
      confirmParams: { return_url: `${window.location.origin}/payments/status` },
    });
  });

  it('disables the Pay button while submitting', async () => {
    let settle: (value: unknown) => void = () => undefined;
    stripe.confirmPayment.mockReturnValue(new Promise((resolve) => (settle = resolve)));
    render(<CheckoutForm amountLabel="$15.00" />);
    const u = userEvent.setup();

    await u.click(screen.getByRole('button', { name: 'Pay $15.00' }));

    const busy = screen.getByRole('button', { name: /processing/i });
    expect(busy).toBeDisabled();
    await u.click(busy);
    expect(stripe.confirmPayment).toHaveBeenCalledTimes(1);
    settle({ error: { type: 'card_error', message: 'Your card was declined.' } });
    await waitFor(() => expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled());
  });

  it('shows a card error in place', async () => {
    stripe.confirmPayment.mockResolvedValue({
      error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
    });
    render(<CheckoutForm amountLabel="$15.00" />);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Pay $15.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Your card was declined.');
    expect(screen.getByRole('button', { name: 'Pay $15.00' })).toBeEnabled();
  });

  it('keeps a declined card in place: Stripe takes another card on the same intent', async () => {
    stripe.confirmPayment.mockResolvedValue({
      error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
    });
    const onStale = vi.fn();
    render(<CheckoutForm amountLabel="$15.00" onStale={onStale} />);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Pay $15.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Your card was declined.');
    expect(onStale).not.toHaveBeenCalled();
  });

  it('asks for a fresh form when the PaymentIntent can no longer be confirmed, saying so plainly', async () => {
    stripe.confirmPayment.mockResolvedValue({
      error: {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: 'You cannot confirm this PaymentIntent because it has a status of canceled.',
      },
    });
    const onStale = vi.fn();
    render(<CheckoutForm amountLabel="$15.00" onStale={onStale} />);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Pay $15.00' }));

    await waitFor(() => expect(onStale).toHaveBeenCalledWith(expect.stringMatching(/enter your card again/)));
  });

  it('opens with the notice of the form it replaces', () => {
    render(<CheckoutForm amountLabel="$15.00" notice="The form was refreshed." />);

    expect(screen.getByRole('alert')).toHaveTextContent('The form was refreshed.');
  });

  it('shows a validation error in place', async () => {
    stripe.confirmPayment.mockResolvedValue({
      error: { type: 'validation_error', message: 'Your card number is incomplete.' },
    });
    render(<CheckoutForm amountLabel="$15.00" />);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Pay $15.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Your card number is incomplete.');
  });

  it('keeps technical errors out of the customer’s way', async () => {
    stripe.confirmPayment.mockResolvedValue({ error: { type: 'api_error', message: 'Internal: bad key sk_…' } });
    render(<CheckoutForm amountLabel="$15.00" />);

    await userEvent.setup().click(screen.getByRole('button', { name: 'Pay $15.00' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(/something went wrong while confirming your payment/i);
  });
});

// Test doubles for Stripe at its module boundary (@stripe/stripe-js/pure and
// @stripe/react-stripe-js). Tests program `stripe` and `elements` per case.
import { useEffect, type ReactNode } from 'react';
import { vi } from 'vitest';

export const stripe = {
  confirmPayment: vi.fn(),
  retrievePaymentIntent: vi.fn(),
};

export const elements = { submit: vi.fn() };

export const loadStripe = vi.fn(() => Promise.resolve(stripe));

export const reactStripe = {
  Elements: ({ children, options }: { children: ReactNode; options?: { clientSecret?: string } }) => (
    <div data-testid="stripe-elements" data-client-secret={options?.clientSecret}>
      {children}
    </div>
  ),
  PaymentElement: ({ onReady }: { onReady?: () => void }) => {
    useEffect(() => {
      onReady?.();
    }, [onReady]);
    return <div data-testid="payment-element" />;
  },
  useStripe: () => stripe,
  useElements: () => elements,
};

import { PaymentElement, useElements, useStripe } from '@stripe/react-stripe-js';
import { useState, type FormEvent } from 'react';

import { paths } from '../../config/paths';
import { Alert } from '../Alert';

const UNEXPECTED = 'Something went wrong while confirming your payment. Please try again.';

/** The card form: Stripe confirms the payment, then redirects to our status page. */
export function CheckoutForm({ amountLabel }: { amountLabel: string }) {
  const stripe = useStripe();
  const elements = useElements();
  const [ready, setReady] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  async function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!stripe || !elements || submitting) return;
    setSubmitting(true);
    setMessage(null);
    try {
      const { error } = await stripe.confirmPayment({
        elements,
        confirmParams: { return_url: `${window.location.origin}${paths.paymentStatus}` },
      });
      // Reached only when Stripe could not redirect: the payment did not go through.
      // Card and validation messages are written for customers; others may not be.
      setMessage(error.type === 'card_error' || error.type === 'validation_error' ? error.message ?? UNEXPECTED : UNEXPECTED);
    } catch {
      setMessage(UNEXPECTED);
    }
    setSubmitting(false);
  }

  return (
    <form className="checkout-form" onSubmit={(e) => void handleSubmit(e)} aria-busy={submitting}>
      <div className="payment-element">
        {ready ? null : <p className="loading">Loading the payment form…</p>}
        <PaymentElement
          onReady={() => setReady(true)}
          onLoadError={() => setMessage('The payment form could not be loaded. Please reload the page.')}
        />
      </div>
      {message ? <Alert>{message}</Alert> : null}
      <button type="submit" className="button button-pay" disabled={!stripe || !elements || !ready || submitting}>
        {submitting ? 'Processing…' : `Pay ${amountLabel}`}
      </button>
    </form>
  );
}

import { PaymentElement, useElements, useStripe } from '@stripe/react-stripe-js';
import { useState, type FormEvent } from 'react';

import { paths } from '../../config/paths';
import { Alert } from '../Alert';

const UNEXPECTED = 'Something went wrong while confirming your payment. Please try again.';
const STALE = 'This payment could not be confirmed as it stood, so the form was refreshed. Please enter your card again.';

type Props = {
  amountLabel: string;
  /** Said above the form when it opens: why the previous form was replaced. */
  notice?: string | null;
  /**
   * The PaymentIntent can no longer be confirmed from this form (Stripe's `payment_intent_unexpected_state`:
   * cancelled by reconciliation, paid in another tab, or, offline, a declined intent the stand-in cannot
   * confirm again): a fresh form is wanted, on the payment the API hands back now. A declined card is not
   * such a case: Stripe takes another card on the same intent. Without it, the message is shown here.
   */
  onStale?: (message: string) => void;
};

/** The card form: Stripe confirms the payment, then redirects to our status page. */
export function CheckoutForm({ amountLabel, notice = null, onStale }: Props) {
  const stripe = useStripe();
  const elements = useElements();
  const [ready, setReady] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [message, setMessage] = useState<string | null>(notice);

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
      if (onStale && error.code === 'payment_intent_unexpected_state') {
        onStale(STALE); // this form is replaced by a fresh one
        return;
      }
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

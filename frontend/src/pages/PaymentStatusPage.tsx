import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';

import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { links, paths } from '../config/paths';
import { api, ApiError, type Id } from '../lib/api';
import { getStripe } from '../lib/stripe';

type Phase =
  | { kind: 'checking' }
  | { kind: 'activating' }
  | { kind: 'processing' }
  | { kind: 'live' }
  | { kind: 'failed'; reason: string | null }
  | { kind: 'slow' };

/** Poll quickly at first (the webhook usually lands within a second or two), then back off. */
function pollDelayMs(attempt: number): number {
  return Math.min(1000 * 1.25 ** attempt, 5000);
}

/** Give up polling after about three minutes and say so rather than spin forever. */
const MAX_POLL_ATTEMPTS = 45;

type Outcome = 'succeeded' | 'processing' | 'failed';

async function readIntent(clientSecret: string): Promise<{ outcome: Outcome; reason: string | null }> {
  const stripe = await getStripe();
  if (!stripe) throw new Error('Stripe.js is not available');
  const { paymentIntent, error } = await stripe.retrievePaymentIntent(clientSecret);
  if (error || !paymentIntent) throw new Error(error?.message ?? 'Could not read the payment');
  if (paymentIntent.status === 'succeeded') return { outcome: 'succeeded', reason: null };
  if (paymentIntent.status === 'processing') return { outcome: 'processing', reason: null };
  return { outcome: 'failed', reason: paymentIntent.last_payment_error?.message ?? null };
}

/**
 * Where Stripe sends the customer back. Stripe says whether the payment went
 * through; our API, fed by Stripe's webhook, says when the event is live.
 */
export default function PaymentStatusPage() {
  const [params] = useSearchParams();
  const paymentIntentId = params.get('payment_intent');
  const clientSecret = params.get('payment_intent_client_secret');
  const redirectStatus = params.get('redirect_status');
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });
  const [eventId, setEventId] = useState<Id | null>(null);

  useEffect(() => {
    if (!paymentIntentId || !clientSecret) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    // One look at our record of the payment: it knows the event, and whether it is live yet.
    const readPayment = async (outcome: Outcome, attempt: number): Promise<void> => {
      try {
        const [payment] = await api.payments.byIntent(paymentIntentId);
        if (stopped) return;
        if (payment) {
          setEventId(payment.event_id);
          if (payment.event_is_active) return setPhase({ kind: 'live' });
          // While Stripe says processing, a failure recorded by the webhook settles it; once Stripe
          // says succeeded, a failure we hold is from an earlier attempt.
          if (outcome === 'processing' && (payment.status === 'failed' || payment.status === 'canceled')) {
            return setPhase({ kind: 'failed', reason: payment.last_error });
          }
        }
      } catch (error) {
        if (stopped) return;
        if (error instanceof ApiError && (error.status === 401 || error.status === 403 || error.status === 404)) {
          return setPhase({ kind: 'failed', reason: error.message });
        }
        // Anything else is likely transient: keep polling.
      }
      if (outcome === 'failed') return;
      if (attempt + 1 >= MAX_POLL_ATTEMPTS) return setPhase({ kind: 'slow' });
      timer = setTimeout(() => void readPayment(outcome, attempt + 1), pollDelayMs(attempt));
    };

    readIntent(clientSecret).then(
      ({ outcome, reason }) => {
        if (stopped) return;
        if (outcome === 'failed') setPhase({ kind: 'failed', reason });
        else setPhase({ kind: outcome === 'succeeded' ? 'activating' : 'processing' });
        void readPayment(outcome, 0);
      },
      () => {
        if (stopped) return;
        // Without Stripe's answer, fall back on what the redirect said and let our API decide.
        const outcome: Outcome = redirectStatus === 'failed' ? 'failed' : 'processing';
        if (outcome === 'failed') setPhase({ kind: 'failed', reason: null });
        else setPhase({ kind: 'processing' });
        void readPayment(outcome, 0);
      },
    );

    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [paymentIntentId, clientSecret, redirectStatus]);

  if (!paymentIntentId || !clientSecret) {
    return (
      <section className="narrow">
        <h1>Payment status</h1>
        <Alert>This link is missing the payment details. Open the event from your events list to check its status.</Alert>
        <p>
          <Link to={paths.myEvents}>Go to my events</Link>
        </p>
      </section>
    );
  }

  return (
    <section className="narrow">
      <h1>Payment status</h1>
      <div className="status-panel">
        <StatusMessage phase={phase} />
      </div>
      <p className="actions">
        {phase.kind === 'failed' ? (
          <Link to={eventId !== null ? links.payment(eventId) : paths.myEvents} className="button">
            Try again
          </Link>
        ) : null}
        {phase.kind === 'live' && eventId !== null ? <Link to={links.event(eventId)}>See your event</Link> : null}
        {phase.kind === 'live' ? <Link to={paths.home}>See all live events</Link> : null}
        <Link to={paths.myEvents}>My events</Link>
      </p>
    </section>
  );
}

function StatusMessage({ phase }: { phase: Phase }) {
  switch (phase.kind) {
    case 'checking':
      return <Loading label="Checking your payment…" />;
    case 'activating':
      return <Loading label="Payment received — activating your event…" />;
    case 'processing':
      return <Loading label="Your payment is processing. Your event goes live as soon as it clears…" />;
    case 'live':
      return (
        <p role="status" className="success">
          <span aria-hidden="true">✓ </span>Your event is live
        </p>
      );
    case 'failed':
      return (
        <Alert>
          <strong>Your payment did not go through.</strong> {phase.reason ?? 'Please try again with another card.'}
        </Alert>
      );
    case 'slow':
      return (
        <p role="status">
          Your payment is recorded, but activation is taking longer than usual. Check your events again in a few
          minutes.
        </p>
      );
  }
}

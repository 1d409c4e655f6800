import { useEffect, useState } from 'react';

import { api } from './api/endpoints';
import { ApiError } from './api/http';
import type { Id } from './api/types';
import { getStripe } from './stripe';

export type Phase =
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
 * After Stripe's redirect: Stripe says whether the payment went through; our
 * API, fed by Stripe's webhook, says when the event is live, so it is polled
 * (backing off) until it does, the payment fails, or it takes too long.
 */
export function usePaymentActivation(
  paymentIntentId: string | null,
  clientSecret: string | null,
  redirectStatus: string | null,
): { phase: Phase; eventId: Id | null } {
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

  return { phase, eventId };
}

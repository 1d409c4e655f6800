import { Elements } from '@stripe/react-stripe-js';
import type { Stripe, StripeElementsOptions } from '@stripe/stripe-js';
import { useCallback, useMemo, useState } from 'react';
import { Link, useParams } from 'react-router';

import { Alert } from '../components/Alert';
import { CheckoutForm } from '../components/checkout/CheckoutForm';
import { errorMessage } from '../components/errorMessage';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { links, paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { ApiError } from '../lib/api/http';
import type { EventItem, Id, PaymentIntentSession } from '../lib/api/types';
import { formatAmount } from '../lib/format';
import { getStripe } from '../lib/stripe';
import { useResource } from '../lib/useResource';

type Checkout =
  | { kind: 'pay'; event: EventItem; session: PaymentIntentSession; stripe: Stripe }
  | { kind: 'already-active'; eventId: Id; title?: string }
  | { kind: 'cancelled'; event: EventItem };

async function loadCheckout(eventId: string, signal: AbortSignal): Promise<Checkout> {
  const event = await api.events.get(eventId, signal);
  if (event.status === 'cancelled') return { kind: 'cancelled', event };
  if (event.is_active) return { kind: 'already-active', eventId: event.id, title: event.title };
  try {
    // The API hands back the open PaymentIntent on a reload, so this never makes a second one.
    const [session, stripe] = await Promise.all([api.payments.createIntent(event.id), getStripe()]);
    if (!stripe) throw new Error('Stripe.js is not available in this browser.');
    return { kind: 'pay', event, session, stripe };
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      // The event cannot be paid now: it went live or was cancelled since it was read, or the organiser
      // has too many checkouts open. The event, read again, says which; the last is the server's message.
      const now = await api.events.get(event.id, signal);
      if (now.is_active) return { kind: 'already-active', eventId: now.id, title: now.title };
      if (now.status === 'cancelled') return { kind: 'cancelled', event: now };
    }
    throw error;
  }
}

export default function PaymentPage() {
  const { eventId = '' } = useParams();
  const [checkout, reload] = useResource(
    useCallback((signal: AbortSignal) => loadCheckout(eventId, signal), [eventId]),
  );
  // Why the last form for this event was replaced, said above the fresh one the reload brings.
  const [replaced, setReplaced] = useState<{ eventId: string; message: string } | null>(null);
  const startOver = useCallback(
    (message: string) => {
      setReplaced({ eventId, message });
      reload();
    },
    [eventId, reload],
  );

  if (checkout.status === 'loading') return <Loading label="Preparing secure payment…" />;
  if (checkout.status === 'error') {
    return (
      <section className="narrow">
        <PageHeading>Pay to activate</PageHeading>
        <Alert>
          {checkout.error instanceof ApiError ? errorMessage(checkout.error) : 'The payment form could not be loaded.'}
        </Alert>
        <p className="actions">
          <button type="button" className="button" onClick={reload}>
            Try again
          </button>
          <Link to={paths.myEvents}>Back to my events</Link>
        </p>
      </section>
    );
  }
  if (checkout.data.kind === 'cancelled') {
    return (
      <section className="narrow">
        <PageHeading>Event cancelled</PageHeading>
        <p role="status">“{checkout.data.event.title}” is cancelled; there is nothing to pay.</p>
        <p>
          <Link to={links.event(checkout.data.event.id)}>See the event</Link>
        </p>
      </section>
    );
  }
  if (checkout.data.kind === 'already-active') {
    return (
      <section className="narrow">
        <PageHeading>Already live</PageHeading>
        <p role="status">
          {checkout.data.title ? `“${checkout.data.title}”` : 'This event'} is already active; there is nothing to pay.
        </p>
        <p>
          <Link to={links.event(checkout.data.eventId)}>See the event status</Link>
        </p>
      </section>
    );
  }
  const notice = replaced?.eventId === eventId ? replaced.message : null;
  return <PayForEvent {...checkout.data} notice={notice} onStale={startOver} />;
}

type PayForEventProps = {
  event: EventItem;
  session: PaymentIntentSession;
  stripe: Stripe;
  notice: string | null;
  onStale: (message: string) => void;
};

function PayForEvent({ event, session, stripe, notice, onStale }: PayForEventProps) {
  const amount = formatAmount(session.amount, session.currency);
  const options = useMemo<StripeElementsOptions>(
    () => ({ clientSecret: session.clientSecret, appearance: { theme: 'stripe' } }),
    [session.clientSecret],
  );
  return (
    <section className="narrow">
      <PageHeading>Pay to activate</PageHeading>
      <p className="lede">
        <strong>{event.title}</strong> goes live as soon as the payment clears.
      </p>
      <p className="amount">
        Activation fee: <strong>{amount}</strong>
      </p>
      <Elements stripe={stripe} options={options}>
        <CheckoutForm amountLabel={amount} notice={notice} onStale={onStale} />
      </Elements>
    </section>
  );
}

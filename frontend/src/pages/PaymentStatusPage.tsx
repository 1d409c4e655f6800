import { Link, useSearchParams } from 'react-router';

import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { links, paths } from '../config/paths';
import { usePaymentActivation, type Phase } from '../lib/usePaymentActivation';

/** Where Stripe sends the customer back, until the event is live (or the payment failed). */
export default function PaymentStatusPage() {
  const [params] = useSearchParams();
  const paymentIntentId = params.get('payment_intent');
  const clientSecret = params.get('payment_intent_client_secret');
  const { phase, eventId } = usePaymentActivation(paymentIntentId, clientSecret, params.get('redirect_status'));

  if (!paymentIntentId || !clientSecret) {
    return (
      <section className="narrow">
        <PageHeading>Payment status</PageHeading>
        <Alert>This link is missing the payment details. Open the event from your events list to check its status.</Alert>
        <p>
          <Link to={paths.myEvents}>Go to my events</Link>
        </p>
      </section>
    );
  }

  return (
    <section className="narrow">
      <PageHeading>Payment status</PageHeading>
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

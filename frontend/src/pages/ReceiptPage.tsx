import { useCallback } from 'react';
import { Link, useParams } from 'react-router';

import { LoadError } from '../components/LoadError';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { links, paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { ApiError } from '../lib/api/http';
import { formatAmount, formatCard, formatDateTime, paymentStatusLabel } from '../lib/format';
import { useResource } from '../lib/useResource';

/** Our own receipt for an activation fee: printable, and it works without Stripe. */
export default function ReceiptPage() {
  const { paymentId = '' } = useParams();
  const [receipt, reload] = useResource(
    useCallback((signal: AbortSignal) => api.payments.receipt(paymentId, signal), [paymentId]),
  );

  if (receipt.status === 'loading') return <Loading label="Loading the receipt…" />;
  if (receipt.status === 'error') {
    const notFound = receipt.error instanceof ApiError && receipt.error.status === 404;
    return (
      <section className="narrow">
        <PageHeading>{notFound ? 'Receipt not found' : 'Receipt'}</PageHeading>
        {notFound ? (
          <p>There is no receipt here: only a payment of yours that went through has one.</p>
        ) : (
          <LoadError error={receipt.error} onRetry={reload} />
        )}
        <p>
          <Link to={paths.myEvents}>Go to my events</Link>
        </p>
      </section>
    );
  }

  const { data } = receipt;
  const card = formatCard(data.card_brand, data.card_last4);
  return (
    <article className="narrow receipt">
      <PageHeading>{`Receipt ${data.receipt_number}`}</PageHeading>
      <p className="lede">EventPay: activation fee for “{data.event.title}”.</p>
      <dl className="receipt-lines">
        <dt>Amount</dt>
        <dd>
          <strong>{formatAmount(data.amount, data.currency)}</strong>
        </dd>
        <dt>Paid on</dt>
        <dd>
          <time dateTime={data.paid_at}>{formatDateTime(data.paid_at)}</time>
        </dd>
        <dt>Status</dt>
        <dd>{paymentStatusLabel[data.status]}</dd>
        {card ? (
          <>
            <dt>Card</dt>
            <dd>{card}</dd>
          </>
        ) : null}
        <dt>Event</dt>
        <dd>
          {data.event.title}, <time dateTime={data.event.starts_at}>{formatDateTime(data.event.starts_at)}</time>
        </dd>
        <dt>Organiser</dt>
        <dd>
          {data.organiser.username} ({data.organiser.email})
        </dd>
        <dt>Payment reference</dt>
        <dd>{data.payment_id}</dd>
      </dl>
      <p className="actions no-print">
        <button type="button" className="button" onClick={() => window.print()}>
          Print
        </button>
        {data.stripe_receipt_url ? (
          <a href={data.stripe_receipt_url} target="_blank" rel="noreferrer">
            Stripe’s receipt<span className="visually-hidden"> (opens in a new tab)</span>
          </a>
        ) : null}
        <Link to={links.event(data.event.id)}>Back to the event</Link>
      </p>
    </article>
  );
}

import { useCallback, useId, useRef } from 'react';
import { Link } from 'react-router';

import { links } from '../config/paths';
import { api } from '../lib/api/endpoints';
import type { Id } from '../lib/api/types';
import { formatAmount, formatCard, formatDateTime, paymentStatusLabel } from '../lib/format';
import { usePagedList } from '../lib/usePagedList';
import { LoadError } from './LoadError';
import { LoadMore } from './LoadMore';
import { Loading } from './Loading';

/** An event's payments, newest first, with a receipt for each one that went through. */
export function EventPayments({ eventId }: { eventId: Id }) {
  const payments = usePagedList(
    useCallback((page: string | null, signal: AbortSignal) => api.payments.forEvent(eventId, page, signal), [eventId]),
  );
  const rows = useRef<HTMLTableSectionElement>(null);
  const id = useId();

  return (
    <section className="payments" aria-labelledby={id}>
      <h2 id={id}>Payments</h2>
      {payments.status === 'loading' ? <Loading label="Loading payments…" /> : null}
      {payments.status === 'error' ? <LoadError error={payments.error} onRetry={payments.reload} /> : null}
      {payments.status === 'ok' && payments.items.length === 0 ? <p className="meta">No payments yet.</p> : null}
      {payments.status === 'ok' && payments.items.length > 0 ? (
        <>
          <div className="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">Amount</th>
                  <th scope="col">Status</th>
                  <th scope="col">Card</th>
                  <th scope="col">
                    <span className="visually-hidden">Receipt</span>
                  </th>
                </tr>
              </thead>
              <tbody ref={rows}>
                {payments.items.map((payment) => {
                  const date = formatDateTime(payment.created_at);
                  return (
                    <tr key={payment.id}>
                      <td>
                        <time dateTime={payment.created_at}>{date}</time>
                      </td>
                      <td>{formatAmount(payment.amount, payment.currency)}</td>
                      <td>{paymentStatusLabel[payment.status]}</td>
                      <td>{formatCard(payment.card_brand, payment.card_last4) || '—'}</td>
                      <td>
                        {payment.status === 'succeeded' || payment.status === 'refunded' ? (
                          <Link to={links.receipt(payment.id)}>
                            Receipt<span className="visually-hidden"> for the payment of {date}</span>
                          </Link>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <LoadMore list={payments} noun={['payment', 'payments']} items={rows} />
        </>
      ) : null}
    </section>
  );
}

import type { EventItem } from '../lib/api/types';
import { eventStatusLabel, paymentNote, paymentNoteLabel } from '../lib/format';

/** Draft, Live or Cancelled; and for a draft, how its payment stands. */
export function EventStatusBadge({ event }: { event: Pick<EventItem, 'status'> & Partial<Pick<EventItem, 'payment_status'>> }) {
  const note = paymentNote({ status: event.status, payment_status: event.payment_status ?? null });
  return (
    <>
      <span className={`badge badge-${event.status}`}>{eventStatusLabel[event.status]}</span>
      {note ? <span className={`badge badge-${note}`}>{paymentNoteLabel[note]}</span> : null}
    </>
  );
}

import type { EventItem } from '../lib/api';
import { eventStatus, eventStatusLabel } from '../lib/format';

export function EventStatusBadge({ event }: { event: Pick<EventItem, 'is_active' | 'payment_status'> }) {
  const status = eventStatus(event);
  return <span className={`badge badge-${status}`}>{eventStatusLabel[status]}</span>;
}

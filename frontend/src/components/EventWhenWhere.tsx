import { formatDateTime } from '../lib/format';

/** When an event starts and where, as every event card and page shows it. */
export function EventWhenWhere({ event }: { event: { starts_at: string; location: string } }) {
  return (
    <p className="meta">
      <time dateTime={event.starts_at}>{formatDateTime(event.starts_at)}</time>
      {event.location ? ` · ${event.location}` : null}
    </p>
  );
}

import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';

import { Alert } from '../components/Alert';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { errorMessage } from '../components/errorMessage';
import { EventPayments } from '../components/EventPayments';
import { EventStatusBadge } from '../components/EventStatusBadge';
import { EventWhenWhere } from '../components/EventWhenWhere';
import { Loading } from '../components/Loading';
import { PageHeading } from '../components/PageHeading';
import { ShareLink } from '../components/ShareLink';
import { links, paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import type { EventItem } from '../lib/api/types';
import { useResource } from '../lib/useResource';
import type { MyEventsState } from './MyEventsPage';

/** What the edit page says when it sends the organiser back here. */
export type EventPageState = { saved?: boolean };

export default function EventPage() {
  const { eventId = '' } = useParams();
  const [event] = useResource(useCallback((signal: AbortSignal) => api.events.get(eventId, signal), [eventId]));

  if (event.status === 'loading') return <Loading label="Loading the event…" />;
  if (event.status === 'error') {
    return (
      <section>
        <PageHeading>Event</PageHeading>
        <Alert>{errorMessage(event.error)}</Alert>
        <p>
          <Link to={paths.myEvents}>Back to my events</Link>
        </p>
      </section>
    );
  }
  return <EventDetails key={eventId} loaded={event.data} />;
}

/** A request behind a confirmation dialog: open, running, and what went wrong. */
function useConfirmedAction(action: () => Promise<void>) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await action();
      setOpen(false);
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setBusy(false);
    }
  }

  return {
    open: () => {
      setError(null);
      setOpen(true);
    },
    dialog: {
      open,
      busy,
      error,
      onConfirm: () => void confirm(),
      onClose: () => {
        if (!busy) setOpen(false);
      },
    },
  };
}

/** Only a draft that was never paid may be deleted; one refunded since went live once (the server says 409). */
function deletable(event: EventItem): boolean {
  return (
    event.status === 'draft' &&
    event.activated_at === null &&
    event.payment_status !== 'succeeded' &&
    event.payment_status !== 'refunded'
  );
}

function EventDetails({ loaded }: { loaded: EventItem }) {
  const navigate = useNavigate();
  const saved = (useLocation().state as EventPageState | null)?.saved === true;
  const [event, setEvent] = useState(loaded);
  const cancelledNotice = useRef<HTMLParagraphElement>(null);
  const [justCancelled, setJustCancelled] = useState(false);

  // The Cancel button goes with the live state: keep keyboard focus on the outcome.
  useEffect(() => {
    if (justCancelled) cancelledNotice.current?.focus();
  }, [justCancelled]);

  const remove = useConfirmedAction(async () => {
    await api.events.remove(event.id);
    const state: MyEventsState = { deleted: event.title };
    void navigate(paths.myEvents, { replace: true, state });
  });
  const cancel = useConfirmedAction(async () => {
    setEvent(await api.events.cancel(event.id));
    setJustCancelled(true);
  });

  return (
    <section>
      <div className="page-heading">
        <PageHeading>{event.title}</PageHeading>
        <span className="badges">
          <EventStatusBadge event={event} />
        </span>
      </div>
      {saved && event.status !== 'cancelled' ? (
        <p role="status" className="success">
          Your changes are saved.
        </p>
      ) : null}
      <EventWhenWhere event={event} />
      {event.description ? <p className="description">{event.description}</p> : null}

      {event.status === 'live' ? (
        <p>
          This event is live and listed on the <Link to={paths.home}>public events page</Link>.
        </p>
      ) : null}
      {event.status === 'cancelled' ? (
        <p className="notice" ref={cancelledNotice} tabIndex={-1} role="status">
          This event is cancelled. Its public page says so, and it is no longer listed.
        </p>
      ) : null}

      <p className="actions">
        {event.status === 'draft' ? (
          <Link to={links.payment(event.id)} className="button">
            Pay to activate
          </Link>
        ) : null}
        {event.status !== 'cancelled' ? (
          <Link to={links.editEvent(event.id)} className="button button-secondary">
            Edit event
          </Link>
        ) : null}
        {deletable(event) ? (
          <button type="button" className="button button-secondary" onClick={remove.open}>
            Delete event
          </button>
        ) : null}
        {event.status === 'live' ? (
          <button type="button" className="button button-secondary" onClick={cancel.open}>
            Cancel event
          </button>
        ) : null}
      </p>

      {event.status !== 'draft' ? <ShareLink path={links.publicEvent(event.id)} /> : null}

      <EventPayments eventId={event.id} />

      <p>
        <Link to={paths.myEvents}>Back to my events</Link>
      </p>

      <ConfirmDialog
        {...remove.dialog}
        title="Delete this draft?"
        confirmLabel="Yes, delete it"
        busyLabel="Deleting…"
        cancelLabel="Keep it"
      >
        <p>“{event.title}” will be removed for good. This cannot be undone.</p>
      </ConfirmDialog>
      <ConfirmDialog
        {...cancel.dialog}
        title="Cancel this event?"
        confirmLabel="Yes, cancel it"
        busyLabel="Cancelling…"
        cancelLabel="Keep it live"
      >
        <p>
          “{event.title}” leaves the public list and its page will say it is cancelled. The activation fee is not
          refunded.
        </p>
      </ConfirmDialog>
    </section>
  );
}

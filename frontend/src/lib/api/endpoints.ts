// EventPay's API, one function per endpoint.
import { request } from './http';
import type {
  CursorPage,
  EventChanges,
  EventInput,
  EventItem,
  Id,
  Me,
  NumberedPage,
  Page,
  Payment,
  PaymentIntentSession,
  PublicEvent,
  Receipt,
  StripeConfig,
  User,
} from './types';

function withQuery(path: string, query: Record<string, string | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== null) params.set(key, value);
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

const segment = (id: Id) => encodeURIComponent(String(id));

/**
 * The page or cursor value out of DRF's `next` link. The link itself is not
 * followed: behind a proxy its scheme and host may not be the browser's.
 */
function toPage<T>(envelope: NumberedPage<T> | CursorPage<T>, param: 'page' | 'cursor'): Page<T> {
  const next = envelope.next ? new URL(envelope.next, window.location.origin).searchParams.get(param) : null;
  return { items: envelope.results, nextPage: next };
}

export const api = {
  auth: {
    me: (signal?: AbortSignal) => request<Me>('/api/auth/me/', { signal }),
    register: (input: { username: string; email: string; password: string }) =>
      request<User>('/api/auth/register/', { method: 'POST', body: input }),
    logIn: (input: { username: string; password: string }) =>
      request<User>('/api/auth/login/', { method: 'POST', body: input }),
    logOut: () => request<null>('/api/auth/logout/', { method: 'POST' }),
    logOutEverywhere: () => request<null>('/api/auth/logout-everywhere/', { method: 'POST' }),
    changePassword: (input: { old_password: string; new_password: string }) =>
      request<null>('/api/auth/password/change/', { method: 'POST', body: input }),
    verifyEmail: (input: { key: string }) => request<null>('/api/auth/email/verify/', { method: 'POST', body: input }),
    resendVerificationEmail: () => request<null>('/api/auth/email/resend/', { method: 'POST' }),
    requestPasswordReset: (input: { email: string }) =>
      request<{ detail: string }>('/api/auth/password/reset/', { method: 'POST', body: input }),
    resetPassword: (input: { uid: string; token: string; new_password: string }) =>
      request<null>('/api/auth/password/reset/confirm/', { method: 'POST', body: input }),
  },
  events: {
    mine: async (page: string | null, signal?: AbortSignal) =>
      toPage(await request<NumberedPage<EventItem>>(withQuery('/api/events/', { page }), { signal }), 'page'),
    get: (id: Id, signal?: AbortSignal) => request<EventItem>(`/api/events/${segment(id)}/`, { signal }),
    create: (input: EventInput) => request<EventItem>('/api/events/', { method: 'POST', body: input }),
    update: (id: Id, changes: EventChanges) =>
      request<EventItem>(`/api/events/${segment(id)}/`, { method: 'PATCH', body: changes }),
    remove: (id: Id) => request<null>(`/api/events/${segment(id)}/`, { method: 'DELETE' }),
    cancel: (id: Id) => request<EventItem>(`/api/events/${segment(id)}/cancel/`, { method: 'POST' }),
  },
  publicEvents: {
    list: async (cursor: string | null, signal?: AbortSignal) =>
      toPage(await request<CursorPage<PublicEvent>>(withQuery('/api/public/events/', { cursor }), { signal }), 'cursor'),
    get: (id: Id, signal?: AbortSignal) => request<PublicEvent>(`/api/public/events/${segment(id)}/`, { signal }),
  },
  payments: {
    config: () => request<StripeConfig>('/api/payments/config/'),
    createIntent: (eventId: Id) =>
      request<PaymentIntentSession>('/api/payments/create-payment-intent/', {
        method: 'POST',
        body: { event_id: eventId },
      }),
    /** A PaymentIntent has at most one payment: the first page holds it. */
    byIntent: async (paymentIntentId: string, signal?: AbortSignal) =>
      (
        await request<NumberedPage<Payment>>(withQuery('/api/payments/', { payment_intent: paymentIntentId }), {
          signal,
        })
      ).results,
    forEvent: async (eventId: Id, page: string | null, signal?: AbortSignal) =>
      toPage(
        await request<NumberedPage<Payment>>(withQuery('/api/payments/', { event: String(eventId), page }), { signal }),
        'page',
      ),
    receipt: (id: Id, signal?: AbortSignal) => request<Receipt>(`/api/payments/${segment(id)}/receipt/`, { signal }),
  },
};

// The shapes EventPay's API sends and accepts.
export type Id = string | number;

/** `email_verified` comes from /api/auth/me/ (and is false right after sign-up). */
export type User = { id: Id; username: string; email: string; email_verified?: boolean };

/** `GET /api/auth/me/` answers anonymous visitors too, without an error status. */
export type Me = ({ authenticated: true } & User) | { authenticated: false };

export type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'canceled' | 'refunded';

export type EventLifecycle = 'draft' | 'live' | 'cancelled';

export type EventItem = {
  id: Id;
  title: string;
  description: string;
  location: string;
  starts_at: string;
  created_at: string;
  status: EventLifecycle;
  cancelled_at: string | null;
  is_active: boolean;
  activated_at: string | null;
  payment_status: PaymentStatus | null;
};

/** What anyone may see of a live (or cancelled after going live) event. */
export type PublicEvent = Pick<
  EventItem,
  'id' | 'title' | 'description' | 'location' | 'starts_at' | 'activated_at' | 'status'
>;

export type EventInput = {
  title: string;
  starts_at: string;
  location?: string;
  description?: string;
};

export type EventChanges = Partial<Pick<EventItem, 'title' | 'description' | 'location' | 'starts_at'>>;

export type PaymentIntentSession = {
  clientSecret: string;
  paymentId: Id;
  amount: number;
  currency: string;
  publishableKey: string;
};

export type Payment = {
  id: Id;
  event_id: Id;
  status: PaymentStatus;
  amount: number;
  currency: string;
  payment_intent_id: string;
  event_is_active: boolean;
  last_error: string | null;
  card_brand: string;
  card_last4: string;
  receipt_url: string;
  created_at: string;
  updated_at: string;
};

export type Receipt = {
  receipt_number: string;
  payment_id: Id;
  event: { id: Id; title: string; starts_at: string };
  organiser: { username: string; email: string };
  amount: number;
  currency: string;
  paid_at: string;
  card_brand: string;
  card_last4: string;
  status: PaymentStatus;
  stripe_receipt_url: string;
};

export type StripeConfig = {
  publishableKey: string;
  offline: boolean;
  stripeJsUrl: string | null;
};

/** DRF's page-number envelope (`?page=`). */
export type NumberedPage<T> = { count: number; next: string | null; previous: string | null; results: T[] };

/** DRF's cursor envelope (`?cursor=`): no count, opaque links. */
export type CursorPage<T> = { next: string | null; previous: string | null; results: T[] };

/**
 * One page as the app uses it: the items, and the query value (page number or
 * cursor) that asks for the next page, or null on the last one.
 */
export type Page<T> = { items: T[]; nextPage: string | null };

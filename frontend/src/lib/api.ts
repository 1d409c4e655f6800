// The one HTTP client for EventPay's API: session cookie + CSRF header, JSON in
// and out, DRF errors turned into ApiError.
import { env } from '../config/env';

export type Id = string | number;

export type User = { id: Id; username: string; email: string };

export type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'canceled' | 'refunded';

export type EventItem = {
  id: Id;
  title: string;
  description: string;
  location: string;
  starts_at: string;
  created_at: string;
  is_active: boolean;
  activated_at: string | null;
  payment_status: PaymentStatus | null;
};

export type EventInput = {
  title: string;
  starts_at: string;
  location?: string;
  description?: string;
};

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
  created_at: string;
  updated_at: string;
};

export type StripeConfig = {
  publishableKey: string;
  offline?: boolean;
  stripeJsUrl?: string | null;
};

export type FieldErrors = Record<string, string[]>;

export class ApiError extends Error {
  readonly status: number;
  readonly fieldErrors: FieldErrors;

  constructor(status: number, message: string, fieldErrors: FieldErrors = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.fieldErrors = fieldErrors;
  }

  /** The first message for one field, if the API reported any. */
  field(name: string): string | undefined {
    return this.fieldErrors[name]?.[0];
  }
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function fallbackMessage(status: number): string {
  if (status === 0) return 'Could not reach the server. Check your connection and try again.';
  if (status === 401 || status === 403) return 'Please log in to continue.';
  if (status === 404) return 'Not found.';
  if (status >= 500) return 'The server had a problem. Please try again in a moment.';
  return 'The request could not be completed.';
}

function asMessages(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(asMessages);
  if (value && typeof value === 'object') return Object.values(value).flatMap(asMessages);
  return [];
}

/** DRF answers `{"detail": "..."}` or `{"field": ["..."], "non_field_errors": [...]}`. */
export function parseApiError(status: number, body: unknown): ApiError {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return new ApiError(status, fallbackMessage(status));
  }
  const fieldErrors: FieldErrors = {};
  let detail: string | undefined;
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const messages = asMessages(value);
    if (key === 'detail' && messages.length) detail = messages.join(' ');
    else if (messages.length) fieldErrors[key] = messages;
  }
  const general = fieldErrors.non_field_errors?.join(' ');
  const message =
    detail ?? general ?? (Object.keys(fieldErrors).length ? 'Please correct the errors below.' : fallbackMessage(status));
  return new ApiError(status, message, fieldErrors);
}

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

let csrfRequest: Promise<void> | null = null;

/** The csrftoken cookie, fetched from the API once if the browser has none yet. */
async function csrfToken(): Promise<string> {
  const existing = readCookie('csrftoken');
  if (existing) return existing;
  csrfRequest ??= fetch(`${env.apiBaseUrl}/api/auth/csrf/`, { credentials: 'same-origin' })
    .then(() => undefined)
    .finally(() => {
      csrfRequest = null;
    });
  await csrfRequest;
  return readCookie('csrftoken') ?? '';
}

type RequestOptions = { method?: string; body?: unknown; signal?: AbortSignal };

export async function request<T>(path: string, { method = 'GET', body, signal }: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (UNSAFE_METHODS.has(method)) headers['X-CSRFToken'] = await csrfToken();

  let response: Response;
  try {
    response = await fetch(`${env.apiBaseUrl}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, fallbackMessage(0));
  }

  const text = response.status === 204 ? '' : await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw parseApiError(response.status, data);
  return data as T;
}

/** Lists may come paginated (`{results: [...]}`) or bare; the pages want the items. */
function items<T>(data: T[] | { results: T[] }): T[] {
  return Array.isArray(data) ? data : data.results;
}

type List<T> = T[] | { results: T[] };

export const api = {
  auth: {
    me: (signal?: AbortSignal) => request<User>('/api/auth/me/', { signal }),
    register: (input: { username: string; email: string; password: string }) =>
      request<User>('/api/auth/register/', { method: 'POST', body: input }),
    logIn: (input: { username: string; password: string }) =>
      request<User>('/api/auth/login/', { method: 'POST', body: input }),
    logOut: () => request<null>('/api/auth/logout/', { method: 'POST' }),
  },
  events: {
    mine: async (signal?: AbortSignal) => items(await request<List<EventItem>>('/api/events/', { signal })),
    get: (id: Id, signal?: AbortSignal) =>
      request<EventItem>(`/api/events/${encodeURIComponent(String(id))}/`, { signal }),
    create: (input: EventInput) => request<EventItem>('/api/events/', { method: 'POST', body: input }),
    live: async (signal?: AbortSignal) =>
      items(await request<List<EventItem>>('/api/public/events/', { signal })),
  },
  payments: {
    config: () => request<StripeConfig>('/api/payments/config/'),
    createIntent: (eventId: Id) =>
      request<PaymentIntentSession>('/api/payments/create-payment-intent/', {
        method: 'POST',
        body: { event_id: eventId },
      }),
    byIntent: async (paymentIntentId: string, signal?: AbortSignal) =>
      items(
        await request<List<Payment>>(
          `/api/payments/?${new URLSearchParams({ payment_intent: paymentIntentId }).toString()}`,
          { signal },
        ),
      ),
  },
};

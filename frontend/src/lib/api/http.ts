// The HTTP layer under every call to EventPay's server: same-origin session
// cookie, the CSRF header on unsafe methods, JSON or form bodies, DRF errors
// turned into ApiError.
import { env } from '../../config/env';
import { waitInWords } from '../format';

export type FieldErrors = Record<string, string[]>;

export class ApiError extends Error {
  readonly status: number;
  readonly fieldErrors: FieldErrors;
  /** For a 429: how many seconds until the limit lets the caller in again (from Retry-After). */
  readonly retryAfter: number | null;

  constructor(status: number, message: string, fieldErrors: FieldErrors = {}, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.fieldErrors = fieldErrors;
    this.retryAfter = retryAfter;
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

/** Retry-After in seconds: delay-seconds or an HTTP date (RFC 9110); null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // An HTTP date names its day and month; Date.parse would also take "-5" for a year.
  if (!/^[A-Za-z]{3}, /.test(trimmed)) return null;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * DRF answers `{"detail": "..."}` or `{"field": ["..."], "non_field_errors": [...]}`.
 * A 429 with Retry-After says when to try again, in words, whatever the body says.
 */
export function parseApiError(status: number, body: unknown, retryAfter: number | null = null): ApiError {
  if (status === 429 && retryAfter !== null) {
    return new ApiError(status, `Too many attempts. Try again in ${waitInWords(retryAfter)}.`, {}, retryAfter);
  }
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
export async function csrfToken(): Promise<string> {
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

export type SendOptions = {
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent form-encoded, as Stripe's API expects. */
  form?: URLSearchParams;
  signal?: AbortSignal | undefined;
};

export type Answer = { status: number; ok: boolean; data: unknown; retryAfter: number | null };

/**
 * One call, whatever its answer: the status and the parsed JSON body (null when
 * there is none). Throws ApiError(0) only when the server could not be reached.
 */
export async function send(path: string, { method = 'GET', body, form, signal }: SendOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (form !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  if (UNSAFE_METHODS.has(method)) headers['X-CSRFToken'] = await csrfToken();

  let response: Response;
  try {
    response = await fetch(`${env.apiBaseUrl}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: form !== undefined ? form.toString() : body === undefined ? undefined : JSON.stringify(body),
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
  return { status: response.status, ok: response.ok, data, retryAfter: parseRetryAfter(response.headers.get('Retry-After')) };
}

/** A call whose success is typed `T`; any other answer is thrown as ApiError. */
export async function request<T>(path: string, options: SendOptions = {}): Promise<T> {
  const { status, ok, data, retryAfter } = await send(path, options);
  if (!ok) throw parseApiError(status, data, retryAfter);
  return data as T;
}

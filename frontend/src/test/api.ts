import { vi } from 'vitest';

export type Reply = { status: number; body?: unknown; headers?: Record<string, string> };
export type Call = { method: string; path: string; headers: Record<string, string>; body: unknown };
type Route = Reply | Reply[] | ((call: Call) => Reply | Promise<Reply>);

/** JSON bodies as objects; form-encoded ones as a plain object of their fields. */
function decodeBody(headers: Record<string, string>, body: RequestInit['body']): unknown {
  if (typeof body !== 'string' || !body) return undefined;
  if (headers['Content-Type'] === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(body));
  }
  return JSON.parse(body) as unknown;
}

/**
 * Replaces fetch with a table of `"METHOD /path"` (or `"METHOD /path?query"`)
 * answers. An array answers in turn and repeats its last entry. Unknown
 * requests answer 404 and are listed in `unmatched`.
 */
export function mockApi(routes: Record<string, Route>) {
  const calls: Call[] = [];
  const unmatched: string[] = [];
  const served = new Map<string, number>();

  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input), 'http://localhost');
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = { ...(init.headers as Record<string, string> | undefined) };
    const call: Call = { method, path: url.pathname + url.search, headers, body: decodeBody(headers, init.body) };
    calls.push(call);
    const key = [`${method} ${url.pathname}${url.search}`, `${method} ${url.pathname}`].find((k) => k in routes);
    let reply: Reply;
    if (!key) {
      unmatched.push(`${method} ${call.path}`);
      reply = { status: 404, body: { detail: 'Not found.' } };
    } else {
      const route = routes[key]!;
      if (typeof route === 'function') reply = await route(call);
      else if (Array.isArray(route)) {
        const index = served.get(key) ?? 0;
        served.set(key, index + 1);
        reply = route[Math.min(index, route.length - 1)]!;
      } else reply = route;
    }
    const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
    return {
      ok: reply.status >= 200 && reply.status < 300,
      status: reply.status,
      headers: new Headers(reply.headers),
      text: () => Promise.resolve(text),
      json: () => Promise.resolve(reply.body),
    } as Response;
  });

  vi.stubGlobal('fetch', fetchMock);
  return { fetchMock, calls, unmatched };
}

/**
 * A limit's 429 as the API sends it: Retry-After in seconds (52 minutes by
 * default) and a body the interface must not need (DRF's own words).
 */
export function throttled(seconds = 52 * 60): Reply {
  return {
    status: 429,
    headers: { 'Retry-After': String(seconds) },
    body: { detail: `Request was throttled. Expected available in ${seconds} seconds.` },
  };
}

export const user = { id: 1, username: 'ada', email: 'ada@example.com' };

/** `GET /api/auth/me/` for a logged-in organiser and for a visitor. */
export const me = { authenticated: true, ...user };
export const anonymous = { authenticated: false };

/** DRF's page-number envelope; `nextPage` becomes the `next` link's `?page=`. */
export function numbered(results: unknown[], { nextPage = null, count = results.length }: { nextPage?: number | null; count?: number } = {}) {
  return {
    count,
    next: nextPage === null ? null : `http://testserver/api/list/?page=${nextPage}`,
    previous: null,
    results,
  };
}

/** DRF's cursor envelope; `nextCursor` becomes the `next` link's `?cursor=`. */
export function cursored(results: unknown[], nextCursor: string | null = null) {
  return {
    next: nextCursor === null ? null : `http://testserver/api/public/events/?cursor=${encodeURIComponent(nextCursor)}`,
    previous: null,
    results,
  };
}

export function anEvent(overrides: Record<string, unknown> = {}) {
  return {
    id: 7,
    title: 'Spring meetup',
    description: 'Talks and snacks',
    location: 'Hall A',
    starts_at: '2031-05-01T18:00:00Z',
    created_at: '2030-01-01T10:00:00Z',
    status: 'draft',
    cancelled_at: null,
    is_active: false,
    activated_at: null,
    payment_status: null,
    ...overrides,
  };
}

export function aPayment(overrides: Record<string, unknown> = {}) {
  return {
    id: 3,
    event_id: 7,
    status: 'pending',
    amount: 1500,
    currency: 'usd',
    payment_intent_id: 'pi_123',
    event_is_active: false,
    last_error: null,
    card_brand: '',
    card_last4: '',
    receipt_url: '',
    created_at: '2030-01-01T10:00:00Z',
    updated_at: '2030-01-01T10:00:00Z',
    ...overrides,
  };
}

export function aPublicEvent(overrides: Record<string, unknown> = {}) {
  return {
    id: 7,
    title: 'Spring meetup',
    description: 'Talks and snacks',
    location: 'Hall A',
    starts_at: '2031-05-01T18:00:00Z',
    activated_at: '2030-01-02T10:00:00Z',
    status: 'live',
    ...overrides,
  };
}

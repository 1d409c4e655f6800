import { vi } from 'vitest';

export type Reply = { status: number; body?: unknown };
export type Call = { method: string; path: string; headers: Record<string, string>; body: unknown };
type Route = Reply | Reply[] | ((call: Call) => Reply | Promise<Reply>);

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
    const call: Call = {
      method,
      path: url.pathname + url.search,
      headers: { ...(init.headers as Record<string, string> | undefined) },
      body: typeof init.body === 'string' && init.body ? (JSON.parse(init.body) as unknown) : undefined,
    };
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
      text: () => Promise.resolve(text),
      json: () => Promise.resolve(reply.body),
    } as Response;
  });

  vi.stubGlobal('fetch', fetchMock);
  return { fetchMock, calls, unmatched };
}

export const user = { id: 1, username: 'ada', email: 'ada@example.com' };

export function anEvent(overrides: Record<string, unknown> = {}) {
  return {
    id: 7,
    title: 'Spring meetup',
    description: 'Talks and snacks',
    location: 'Hall A',
    starts_at: '2031-05-01T18:00:00Z',
    created_at: '2030-01-01T10:00:00Z',
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
    created_at: '2030-01-01T10:00:00Z',
    updated_at: '2030-01-01T10:00:00Z',
    ...overrides,
  };
}

import { describe, expect, it } from 'vitest';

import { anEvent, aPublicEvent, cursored, mockApi, numbered, throttled, user } from '../../test/api';
import { api } from './endpoints';
import { ApiError, parseRetryAfter, send } from './http';

describe('the HTTP layer', () => {
  it('turns a 429 into when to try again, from Retry-After', async () => {
    mockApi({ 'POST /api/auth/login/': throttled(3120) });

    const error = await api.auth.logIn({ username: 'ada', password: 'pw' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 429, retryAfter: 3120, message: 'Too many attempts. Try again in 52 minutes.' });
  });

  it('keeps the detail of a 429 without Retry-After', async () => {
    mockApi({ 'POST /api/auth/login/': { status: 429, body: { detail: 'Slow down.' } } });

    await expect(api.auth.logIn({ username: 'ada', password: 'pw' })).rejects.toMatchObject({ message: 'Slow down.', retryAfter: null });
  });

  it.each([
    ['120', 120],
    [' 7 ', 7],
    ['Thu, 01 Jan 2099 00:01:30 GMT', 90],
    ['Thu, 01 Jan 2099 00:00:00 GMT', 0],
    ['soon', null],
    ['-5', null],
    [null, null],
  ])('reads Retry-After %j as %j seconds', (value, seconds) => {
    expect(parseRetryAfter(value, Date.parse('2099-01-01T00:00:00Z'))).toBe(seconds);
  });

  it('sends the csrftoken cookie as X-CSRFToken on unsafe methods', async () => {
    const { calls } = mockApi({ 'POST /api/auth/login/': { status: 200, body: user } });

    await expect(api.auth.logIn({ username: 'ada', password: 'pw' })).resolves.toEqual(user);

    expect(calls[0]).toMatchObject({
      method: 'POST',
      path: '/api/auth/login/',
      headers: { 'X-CSRFToken': 'test-csrf-token', 'Content-Type': 'application/json' },
      body: { username: 'ada', password: 'pw' },
    });
  });

  it('fetches the CSRF cookie first when the browser has none', async () => {
    document.cookie = 'csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
    const { calls } = mockApi({
      'GET /api/auth/csrf/': () => {
        document.cookie = 'csrftoken=fresh-token; path=/';
        return { status: 204 };
      },
      'POST /api/auth/logout/': { status: 204 },
    });

    await api.auth.logOut();

    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /api/auth/csrf/', 'POST /api/auth/logout/']);
    expect(calls[1]?.headers['X-CSRFToken']).toBe('fresh-token');
  });

  it('sends form-encoded bodies, and hands back any answer without throwing', async () => {
    const { calls } = mockApi({ 'POST /api/form/': { status: 402, body: { error: { code: 'card_declined' } } } });

    const answer = await send('/api/form/', { method: 'POST', form: new URLSearchParams({ a: '1', 'b[c]': '2' }) });

    expect(answer).toEqual({ status: 402, ok: false, data: { error: { code: 'card_declined' } }, retryAfter: null });
    expect(calls[0]).toMatchObject({
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRFToken': 'test-csrf-token' },
      body: { a: '1', 'b[c]': '2' },
    });
  });

  it('turns DRF field errors into a typed ApiError', async () => {
    mockApi({
      'POST /api/events/': { status: 400, body: { title: ['This field is required.'], starts_at: ['Bad date.'] } },
    });

    const error = await api.events.create({ title: '', starts_at: '' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    expect(apiError.status).toBe(400);
    expect(apiError.field('title')).toBe('This field is required.');
    expect(apiError.field('starts_at')).toBe('Bad date.');
    expect(apiError.message).toBe('Please correct the errors below.');
  });

  it('uses the detail message when there is one', async () => {
    mockApi({ 'DELETE /api/events/7/': { status: 409, body: { detail: 'This event has been paid for.' } } });

    await expect(api.events.remove(7)).rejects.toMatchObject({ status: 409, message: 'This event has been paid for.' });
  });

  it('reports a network failure as status 0', async () => {
    mockApi({});
    globalThis.fetch = () => Promise.reject(new TypeError('Failed to fetch'));

    await expect(api.publicEvents.list(null)).rejects.toMatchObject({ status: 0 });
  });
});

describe('paginated lists', () => {
  it('asks for a numbered page and reads the next one from the `next` link', async () => {
    const { calls } = mockApi({
      'GET /api/events/': { status: 200, body: numbered([anEvent({ id: 1 })], { nextPage: 2, count: 21 }) },
      'GET /api/events/?page=2': { status: 200, body: numbered([anEvent({ id: 2 })], { count: 21 }) },
    });

    const first = await api.events.mine(null);
    const second = await api.events.mine(first.nextPage);

    expect(first).toMatchObject({ items: [{ id: 1 }], nextPage: '2' });
    expect(second).toMatchObject({ items: [{ id: 2 }], nextPage: null });
    expect(calls.map((c) => c.path)).toEqual(['/api/events/', '/api/events/?page=2']);
  });

  it('follows the public list by its opaque cursor', async () => {
    const { calls } = mockApi({
      'GET /api/public/events/': { status: 200, body: cursored([aPublicEvent({ id: 1 })], 'cD0yMDMx') },
      'GET /api/public/events/?cursor=cD0yMDMx': { status: 200, body: cursored([aPublicEvent({ id: 2 })]) },
    });

    const first = await api.publicEvents.list(null);
    const second = await api.publicEvents.list(first.nextPage);

    expect(first).toMatchObject({ items: [{ id: 1 }], nextPage: 'cD0yMDMx' });
    expect(second.nextPage).toBeNull();
    expect(calls[1]?.path).toBe('/api/public/events/?cursor=cD0yMDMx');
  });

  it('lists one event’s payments', async () => {
    const { calls } = mockApi({ 'GET /api/payments/?event=7&page=3': { status: 200, body: numbered([]) } });

    await api.payments.forEvent(7, '3');

    expect(calls[0]?.path).toBe('/api/payments/?event=7&page=3');
  });
});

describe('the organiser’s event endpoints', () => {
  it('patches only the fields given, and cancels through its own action', async () => {
    const { calls } = mockApi({
      'PATCH /api/events/7/': { status: 200, body: anEvent({ title: 'New title' }) },
      'POST /api/events/7/cancel/': { status: 200, body: anEvent({ status: 'cancelled' }) },
    });

    await api.events.update(7, { title: 'New title' });
    await expect(api.events.cancel(7)).resolves.toMatchObject({ status: 'cancelled' });

    expect(calls[0]).toMatchObject({ method: 'PATCH', body: { title: 'New title' } });
    expect(calls[1]).toMatchObject({ method: 'POST', path: '/api/events/7/cancel/', body: undefined });
  });
});

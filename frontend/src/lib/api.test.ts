import { describe, expect, it } from 'vitest';

import { mockApi, user } from '../test/api';
import { api, ApiError } from './api';

describe('api client', () => {
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
    mockApi({ 'POST /api/payments/create-payment-intent/': { status: 409, body: { detail: 'Event already active.' } } });

    await expect(api.payments.createIntent(7)).rejects.toMatchObject({ status: 409, message: 'Event already active.' });
  });

  it('reports a network failure as status 0', async () => {
    mockApi({});
    globalThis.fetch = () => Promise.reject(new TypeError('Failed to fetch'));

    await expect(api.events.live()).rejects.toMatchObject({ status: 0 });
  });

  it('accepts paginated and bare lists', async () => {
    mockApi({
      'GET /api/events/': { status: 200, body: { count: 1, results: [{ id: 1 }] } },
      'GET /api/public/events/': { status: 200, body: [{ id: 2 }] },
    });

    await expect(api.events.mine()).resolves.toEqual([{ id: 1 }]);
    await expect(api.events.live()).resolves.toEqual([{ id: 2 }]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { mockApi } from '../test/api';

const loadStripe = vi.hoisted(() => vi.fn());
vi.mock('@stripe/stripe-js/pure', () => ({ loadStripe }));

// getStripe caches its promise per module instance: load a fresh one per test.
async function freshGetStripe() {
  vi.resetModules();
  return (await import('./stripe')).getStripe;
}

describe('getStripe', () => {
  let injected: string[];

  beforeEach(() => {
    injected = [];
    // Like loadStripe: use the window.Stripe on the page if there is one.
    loadStripe.mockImplementation((key: string) =>
      Promise.resolve(window.Stripe ? window.Stripe(key) : { injectedBefore: [...injected] }),
    );
    vi.spyOn(document.head, 'appendChild').mockImplementation(<T extends Node>(node: T): T => {
      const script = node as unknown as HTMLScriptElement;
      injected.push(script.src);
      // The stand-in script defines a bare window.Stripe when it loads.
      window.Stripe = (() => ({ elements: () => ({ create: vi.fn() }) })) as unknown as typeof window.Stripe;
      setTimeout(() => script.dispatchEvent(new Event('load')), 0);
      return node;
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
    delete window.Stripe;
  });

  it('online: loads Stripe.js with the publishable key and injects nothing', async () => {
    mockApi({ 'GET /api/payments/config/': { status: 200, body: { publishableKey: 'pk_test_1', offline: false, stripeJsUrl: null } } });
    const getStripe = await freshGetStripe();

    await expect(getStripe()).resolves.toEqual({ injectedBefore: [] });

    expect(loadStripe).toHaveBeenCalledWith('pk_test_1');
    expect(injected).toEqual([]);
  });

  it('offline: puts the stand-in on the page and adapts it before loadStripe reads it', async () => {
    mockApi({
      'GET /api/payments/config/': {
        status: 200,
        body: { publishableKey: 'pk_offline_x', offline: true, stripeJsUrl: 'http://127.0.0.1:8420/js.stripe.com/v3/' },
      },
    });
    const getStripe = await freshGetStripe();

    const stripe = await getStripe();

    expect(injected).toEqual(['http://127.0.0.1:8420/js.stripe.com/v3/']);
    expect(loadStripe).toHaveBeenCalledWith('pk_offline_x');
    expect(stripe).toMatchObject({
      elements: expect.any(Function) as unknown,
      confirmPayment: expect.any(Function) as unknown,
      retrievePaymentIntent: expect.any(Function) as unknown,
    });
  });

  it('loads once and retries after a failure', async () => {
    const { calls } = mockApi({
      'GET /api/payments/config/': [
        { status: 503, body: { detail: 'down' } },
        { status: 200, body: { publishableKey: 'pk_test_1', offline: false } },
      ],
    });
    const getStripe = await freshGetStripe();

    await expect(getStripe()).rejects.toMatchObject({ status: 503 });
    await getStripe();
    await getStripe();

    expect(calls).toHaveLength(2);
    expect(loadStripe).toHaveBeenCalledTimes(1);
  });
});

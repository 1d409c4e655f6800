import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { aPayment, mockApi, numbered } from '../test/api';
import { stripe } from '../test/stripe';
import { usePaymentActivation } from './usePaymentActivation';

vi.mock('@stripe/stripe-js/pure', async () => ({ loadStripe: (await import('../test/stripe')).loadStripe }));

// Resolves once every pending promise chain (the mocked fetches) has run; only setTimeout is faked.
const settle = () => act(() => new Promise<void>((resolve) => setImmediate(resolve)));

const config = { status: 200, body: { publishableKey: 'pk_test_1', offline: false, stripeJsUrl: null } };

describe('usePaymentActivation', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks no one without the payment details', () => {
    const { calls } = mockApi({});

    const { result } = renderHook(() => usePaymentActivation(null, null, null));

    expect(result.current).toEqual({ phase: { kind: 'checking' }, eventId: null });
    expect(calls).toEqual([]);
  });

  it('stops polling when the page goes away', async () => {
    stripe.retrievePaymentIntent.mockResolvedValue({ paymentIntent: { id: 'pi_123', status: 'succeeded' } });
    const { calls } = mockApi({
      'GET /api/payments/config/': config,
      'GET /api/payments/?payment_intent=pi_123': { status: 200, body: numbered([aPayment({ status: 'succeeded' })]) },
    });
    const { result, unmount } = renderHook(() => usePaymentActivation('pi_123', 'pi_123_secret_abc', 'succeeded'));
    await settle();
    expect(result.current).toEqual({ phase: { kind: 'activating' }, eventId: 7 });
    const polls = () => calls.filter((c) => c.path.startsWith('/api/payments/?')).length;
    const before = polls();

    unmount();
    await vi.advanceTimersByTimeAsync(60_000);

    expect(polls()).toBe(before);
  });
});

import { describe, expect, it } from 'vitest';

import { eventStatus, formatAmount } from './format';

describe('formatAmount', () => {
  it('reads amounts in the minor unit of the currency', () => {
    expect(formatAmount(1500, 'usd', 'en-US')).toBe('$15.00');
    expect(formatAmount(1500, 'jpy', 'en-US')).toBe('¥1,500');
    expect(formatAmount(999, 'eur', 'de-DE')).toBe('9,99\u00a0€');
  });
});

describe('eventStatus', () => {
  it.each([
    [false, null, 'draft'],
    [false, 'pending', 'payment_pending'],
    [false, 'succeeded', 'payment_pending'],
    [true, 'succeeded', 'live'],
    [false, 'failed', 'payment_failed'],
    [false, 'canceled', 'payment_failed'],
    [false, 'refunded', 'refunded'],
  ] as const)('is_active=%s payment_status=%s reads %s', (isActive, paymentStatus, expected) => {
    expect(eventStatus({ is_active: isActive, payment_status: paymentStatus })).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';

import { formatAmount, formatCard, isoToLocalDateTime, localDateTimeToIso, paymentNote, waitInWords } from './format';

describe('formatAmount', () => {
  it('reads amounts in the minor unit of the currency', () => {
    expect(formatAmount(1500, 'usd', 'en-US')).toBe('$15.00');
    expect(formatAmount(1500, 'jpy', 'en-US')).toBe('¥1,500');
    expect(formatAmount(999, 'eur', 'de-DE')).toBe('9,99\u00a0€');
  });
});

describe('paymentNote', () => {
  it.each([
    ['draft', null, null],
    ['draft', 'pending', 'payment_pending'],
    ['draft', 'succeeded', 'payment_pending'],
    ['draft', 'failed', 'payment_failed'],
    ['draft', 'canceled', 'payment_failed'],
    ['draft', 'refunded', 'refunded'],
    ['live', 'succeeded', null],
    ['cancelled', 'succeeded', null],
  ] as const)('status=%s payment_status=%s reads %s', (status, paymentStatus, expected) => {
    expect(paymentNote({ status, payment_status: paymentStatus })).toBe(expected);
  });
});

describe('formatCard', () => {
  it('names the brand and the last four digits Stripe gave', () => {
    expect(formatCard('visa', '4242')).toBe('Visa ending in 4242');
    expect(formatCard('amex', '0005')).toBe('American Express ending in 0005');
    expect(formatCard('elo', '')).toBe('Elo');
    expect(formatCard('', '')).toBe('');
  });
});

describe('isoToLocalDateTime', () => {
  it('is the inverse of localDateTimeToIso, to the minute', () => {
    expect(isoToLocalDateTime(localDateTimeToIso('2031-05-01T18:30'))).toBe('2031-05-01T18:30');
    expect(isoToLocalDateTime('not a date')).toBe('');
  });
});

describe('waitInWords', () => {
  // The same table as the API's words (tests/core/test_wait_in_words.py).
  it.each([
    [0.2, '1 second'],
    [30, '30 seconds'],
    [59.5, '1 minute'],
    [60, '1 minute'],
    [3120, '52 minutes'],
    [3600, '1 hour'],
    [3601, '2 hours'],
  ])('reads %s seconds as "%s"', (seconds, words) => {
    expect(waitInWords(seconds)).toBe(words);
  });
});

import type { EventItem, EventLifecycle, PaymentStatus } from './api/types';

/** Formats an amount given in the currency's minor unit (cents for USD, yen for JPY). */
export function formatAmount(minorUnits: number, currency: string, locale?: string): string {
  const formatter = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase() });
  const exponent = formatter.resolvedOptions().maximumFractionDigits ?? 2;
  return formatter.format(minorUnits / 10 ** exponent);
}

/**
 * How long to wait, as a person reads it, rounded up: "52 minutes", "1 hour",
 * "30 seconds" (the same words as the API's `detail`, core/limits.py).
 */
export function waitInWords(seconds: number): string {
  const whole = Math.max(1, Math.ceil(seconds));
  for (const [unit, size] of [
    ['hour', 3600],
    ['minute', 60],
  ] as const) {
    if (whole >= size) {
      const count = Math.ceil(whole / size);
      return `${count} ${unit}${count === 1 ? '' : 's'}`;
    }
  }
  return `${whole} second${whole === 1 ? '' : 's'}`;
}

export function formatDateTime(iso: string, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

/** `<input type="datetime-local">` gives local wall time; the API wants an absolute ISO 8601 instant. */
export function localDateTimeToIso(value: string): string {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

/** The other way: an ISO 8601 instant as the local wall time `<input type="datetime-local">` shows. */
export function isoToLocalDateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export const eventStatusLabel: Record<EventLifecycle, string> = {
  draft: 'Draft',
  live: 'Live',
  cancelled: 'Cancelled',
};

export type PaymentNote = 'payment_pending' | 'payment_failed' | 'refunded';

export const paymentNoteLabel: Record<PaymentNote, string> = {
  payment_pending: 'Payment pending',
  payment_failed: 'Payment failed',
  refunded: 'Refunded',
};

/** Why a draft is not live yet, as far as its latest payment tells; nothing for a live or cancelled event. */
export function paymentNote(event: Pick<EventItem, 'status' | 'payment_status'>): PaymentNote | null {
  if (event.status !== 'draft') return null;
  switch (event.payment_status) {
    case null:
      return null;
    case 'failed':
    case 'canceled':
      return 'payment_failed';
    case 'refunded':
      return 'refunded';
    // 'succeeded' on a draft: the payment is in, activation has not landed yet.
    case 'pending':
    case 'succeeded':
      return 'payment_pending';
  }
}

export const paymentStatusLabel: Record<PaymentStatus, string> = {
  pending: 'Pending',
  succeeded: 'Succeeded',
  failed: 'Failed',
  canceled: 'Canceled',
  refunded: 'Refunded',
};

const CARD_BRANDS: Record<string, string> = {
  amex: 'American Express',
  diners: 'Diners Club',
  discover: 'Discover',
  jcb: 'JCB',
  mastercard: 'Mastercard',
  unionpay: 'UnionPay',
  visa: 'Visa',
};

/** "Visa ending in 4242", or "" when Stripe gave no card details. */
export function formatCard(brand: string, last4: string): string {
  const name = CARD_BRANDS[brand] ?? (brand ? brand.charAt(0).toUpperCase() + brand.slice(1) : 'Card');
  if (last4) return `${name} ending in ${last4}`;
  return brand ? name : '';
}

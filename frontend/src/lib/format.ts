import type { EventItem } from './api';

/** Formats an amount given in the currency's minor unit (cents for USD, yen for JPY). */
export function formatAmount(minorUnits: number, currency: string, locale?: string): string {
  const formatter = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase() });
  const exponent = formatter.resolvedOptions().maximumFractionDigits ?? 2;
  return formatter.format(minorUnits / 10 ** exponent);
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

export type EventStatus = 'draft' | 'payment_pending' | 'live' | 'payment_failed' | 'refunded';

export const eventStatusLabel: Record<EventStatus, string> = {
  draft: 'Draft',
  payment_pending: 'Payment pending',
  live: 'Live',
  payment_failed: 'Payment failed',
  refunded: 'Refunded',
};

export function eventStatus(event: Pick<EventItem, 'is_active' | 'payment_status'>): EventStatus {
  if (event.is_active) return 'live';
  switch (event.payment_status) {
    case null:
      return 'draft';
    case 'failed':
    case 'canceled':
      return 'payment_failed';
    case 'refunded':
      return 'refunded';
    // 'succeeded' while inactive: the payment is in, activation has not landed yet.
    case 'pending':
    case 'succeeded':
      return 'payment_pending';
  }
}

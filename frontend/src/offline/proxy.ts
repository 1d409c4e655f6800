// Calls to localstripe through the server's same-origin route, which checks the
// client secret against the PaymentIntent and adds the secret key: the browser
// cannot call localstripe itself (a pk_ key gets 401, CORS blocks our headers).
import type { StripeError } from '@stripe/stripe-js';

import { send, type Answer } from '../lib/api/http';

const ROUTE = '/api/payments/offline-stripe/';

/** A Stripe-shaped failure, thrown by `callStripe` and handed back as `{error}` by the adapter. */
export class OfflineStripeError extends Error {
  readonly error: StripeError;

  constructor(error: StripeError) {
    super(error.message);
    this.name = 'OfflineStripeError';
    this.error = error;
  }
}

export function stripeError(type: StripeError['type'], code: string, message: string): StripeError {
  return { type, code, message };
}

/** A Stripe API call, form-encoded as Stripe's own are; resolves the object Stripe answers. */
export async function callStripe<T>(method: 'GET' | 'POST', path: string, params: Record<string, string>): Promise<T> {
  const query = new URLSearchParams(params);
  let answer: Answer;
  try {
    answer =
      method === 'GET'
        ? await send(`${ROUTE}${path}?${query.toString()}`)
        : await send(`${ROUTE}${path}`, { method, form: query });
  } catch {
    throw new OfflineStripeError(stripeError('api_connection_error', 'network', 'Could not reach the payment server.'));
  }
  const body = (answer.data ?? {}) as { error?: StripeError; detail?: string };
  if (answer.ok && !body.error) return answer.data as T;
  const error =
    body.error ??
    stripeError('api_error', `http_${answer.status}`, body.detail ?? `The payment server answered ${answer.status}.`);
  // localstripe labels a decline invalid_request_error; Stripe answers 402 with a card_error.
  throw new OfflineStripeError(answer.status === 402 ? { ...error, type: 'card_error' } : error);
}

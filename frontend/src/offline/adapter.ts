// Offline mode only: bridges localstripe's Stripe.js stand-in to the parts of
// Stripe.js's API that EventPay uses (elements with a client secret, a
// PaymentElement that fires "ready", confirmPayment, retrievePaymentIntent), so
// the app's code is the same online and offline. The stand-in ignores
// elements({clientSecret}), lacks those two methods, and its elements have no
// off/update and never fire "ready".
import type { PaymentIntent, StripeConstructor, StripeError } from '@stripe/stripe-js';

import { callStripe, OfflineStripeError, stripeError } from './proxy';
import type { Handler, StandInConstructor, StandInElement, StandInElements, StandInStripe } from './standIn';

/** The stand-in's inputs, by placeholder, with the accessible names it does not give them. */
const CARD_FIELDS = {
  number: 'Card number',
  exp_month: 'Expiry month (MM)',
  exp_year: 'Expiry year (YY)',
  cvc: 'Security code (CVC)',
  postal_code: 'Postal code',
} as const;

type CardField = keyof typeof CARD_FIELDS;
type Card = Record<CardField, string>;

const FIELDS = Object.keys(CARD_FIELDS) as CardField[];

type ConfirmPaymentParams = {
  elements?: object;
  clientSecret?: string;
  confirmParams?: { return_url?: string };
  redirect?: 'always' | 'if_required';
};

type Result<K extends string, T> = { error: StripeError } | ({ [key in K]: T } & { error?: undefined });

export type AdapterOptions = {
  /** Where a confirmed payment goes next; Stripe.js leaves the page the same way. */
  navigate?: (url: string) => void;
};

/** What an elements group knows that the stand-in drops: the client secret, and where its element is. */
type ElementsState = { clientSecret: string | null; container: ParentNode | null };

function cardInput(root: ParentNode, field: CardField): HTMLInputElement | null {
  return root.querySelector<HTMLInputElement>(`input[placeholder="${field}"]`);
}

function intentId(clientSecret: string | null | undefined): string | null {
  return /^(pi_[A-Za-z0-9]+)_secret_/.exec(clientSecret ?? '')?.[1] ?? null;
}

function readCard(root: ParentNode): Card {
  const card = Object.fromEntries(
    FIELDS.map((field) => [field, cardInput(root, field)?.value.replace(/\s+/g, '') ?? '']),
  ) as Card;
  if (card.exp_year.length === 2) card.exp_year = `20${card.exp_year}`;
  return card;
}

function validate(card: Card): StripeError | null {
  if (!/^\d{12,19}$/.test(card.number)) {
    return stripeError('validation_error', 'incomplete_number', 'Your card number is incomplete.');
  }
  if (!/^\d{1,2}$/.test(card.exp_month) || !/^\d{4}$/.test(card.exp_year)) {
    return stripeError('validation_error', 'incomplete_expiry', "Your card's expiration date is incomplete.");
  }
  if (!/^\d{3,4}$/.test(card.cvc)) {
    return stripeError('validation_error', 'incomplete_cvc', "Your card's security code is incomplete.");
  }
  return null;
}

function redirectStatus(status: PaymentIntent['status']): string {
  if (status === 'succeeded') return 'succeeded';
  if (status === 'processing') return 'pending';
  return 'failed';
}

/** react-stripe-js calls off() on cleanup, update() on new options, and waits for "ready". */
function adaptElement(element: StandInElement, state: ElementsState) {
  let mounted = false;
  const { mount, unmount, on } = element;

  const fireReady = (handler: Handler) =>
    setTimeout(() => {
      if (mounted) handler({ elementType: 'payment' });
    }, 0);

  return Object.assign(element, {
    mount(domElement: HTMLElement | string) {
      mount.call(element, domElement);
      const container = typeof domElement === 'string' ? document.querySelector(domElement) : domElement;
      state.container = container ?? document;
      for (const field of FIELDS) {
        const input = cardInput(state.container, field);
        if (!input) continue;
        input.setAttribute('aria-label', CARD_FIELDS[field]);
        if (field !== 'postal_code') input.setAttribute('inputmode', 'numeric');
        input.setAttribute('autocomplete', 'off');
      }
      mounted = true;
      (element.listeners.ready ?? []).forEach(fireReady);
    },
    unmount() {
      mounted = false;
      unmount.call(element);
    },
    on(event: string, handler: Handler) {
      on.call(element, event, handler);
      if (event === 'ready' && mounted) fireReady(handler);
      return element;
    },
    off(event: string, handler: Handler) {
      const handlers = element.listeners[event] ?? [];
      const index = handlers.indexOf(handler);
      if (index >= 0) handlers.splice(index, 1);
      return element;
    },
    update() {},
  });
}

async function confirmIntent(clientSecret: string, id: string, card: Card): Promise<PaymentIntent> {
  const paymentMethod = await callStripe<{ id: string }>('POST', 'v1/payment_methods', {
    client_secret: clientSecret,
    type: 'card',
    'card[number]': card.number,
    'card[exp_month]': card.exp_month,
    'card[exp_year]': card.exp_year,
    'card[cvc]': card.cvc,
  });
  // localstripe cannot confirm with a payment_method parameter (500), so set it first.
  const updated = await callStripe<PaymentIntent>('POST', `v1/payment_intents/${id}`, {
    client_secret: clientSecret,
    payment_method: paymentMethod.id,
  });
  if (updated.status !== 'requires_confirmation') {
    // localstripe keeps a declined charge on the intent, so it never confirms that intent again;
    // real Stripe does. Say so plainly rather than forward its bare "Bad request".
    console.warn(`offline Stripe adapter: localstripe cannot confirm ${id} (status ${updated.status}).`);
    throw new OfflineStripeError(
      stripeError(
        'invalid_request_error',
        'payment_intent_unexpected_state',
        'The offline Stripe stand-in cannot confirm this payment again.',
      ),
    );
  }
  return callStripe<PaymentIntent>('POST', `v1/payment_intents/${id}/confirm`, { client_secret: clientSecret });
}

/** Wraps the stand-in's constructor in one that behaves, for EventPay's purposes, like Stripe.js's. */
export function adaptStandIn(StandIn: StandInConstructor, { navigate = (url) => window.location.assign(url) }: AdapterOptions = {}) {
  const states = new WeakMap<object, ElementsState>();

  return function OfflineStripe(publishableKey: string, options?: unknown) {
    const stripe: StandInStripe = StandIn(publishableKey, options);
    const standInElements = stripe.elements.bind(stripe);

    const elements = (elementsOptions?: { clientSecret?: string }): StandInElements => {
      const group = standInElements(elementsOptions);
      const state: ElementsState = { clientSecret: elementsOptions?.clientSecret ?? null, container: null };
      const create = group.create.bind(group);
      states.set(group, state);
      return Object.assign(group, {
        create: (type: string, elementOptions?: unknown) => adaptElement(create(type, elementOptions), state),
        update() {},
        submit: () => Promise.resolve({}),
      });
    };

    async function confirmPayment(params: ConfirmPaymentParams): Promise<Result<'paymentIntent', PaymentIntent>> {
      const state = params.elements ? states.get(params.elements) : undefined;
      const clientSecret = params.clientSecret ?? state?.clientSecret ?? null;
      const id = intentId(clientSecret);
      if (!clientSecret || !id) {
        return {
          error: stripeError('invalid_request_error', 'missing_client_secret', 'No PaymentIntent client secret was given.'),
        };
      }
      const card = readCard(state?.container ?? document);
      const invalid = validate(card);
      if (invalid) return { error: invalid };

      let intent: PaymentIntent;
      try {
        intent = await confirmIntent(clientSecret, id, card);
      } catch (caught) {
        if (caught instanceof OfflineStripeError) return { error: caught.error };
        throw caught;
      }

      if (intent.status === 'requires_action') {
        return {
          error: stripeError(
            'card_error',
            'authentication_required',
            'This card needs authentication, which offline mode does not support.',
          ),
        };
      }
      if (intent.status !== 'succeeded' && intent.status !== 'processing') {
        const last = intent.last_payment_error as StripeError | null;
        return { error: last ?? stripeError('card_error', 'payment_failed', 'Your payment could not be completed.') };
      }
      if (params.redirect === 'if_required') return { paymentIntent: intent };

      const returnUrl = new URL(params.confirmParams?.return_url ?? window.location.href, window.location.href);
      returnUrl.searchParams.set('payment_intent', intent.id);
      returnUrl.searchParams.set('payment_intent_client_secret', clientSecret);
      returnUrl.searchParams.set('redirect_status', redirectStatus(intent.status));
      navigate(returnUrl.toString());
      // Like Stripe.js: the page is navigating away, so the promise never settles.
      return new Promise(() => undefined);
    }

    async function retrievePaymentIntent(clientSecret: string): Promise<Result<'paymentIntent', PaymentIntent>> {
      const id = intentId(clientSecret);
      if (!id) return { error: stripeError('invalid_request_error', 'invalid_client_secret', 'Invalid client secret.') };
      try {
        return {
          paymentIntent: await callStripe<PaymentIntent>('GET', `v1/payment_intents/${id}`, { client_secret: clientSecret }),
        };
      } catch (caught) {
        if (caught instanceof OfflineStripeError) return { error: caught.error };
        throw caught;
      }
    }

    return Object.assign(stripe, { elements, confirmPayment, retrievePaymentIntent });
  };
}

/** Replaces the stand-in's window.Stripe (already on the page) with the adapted one, for loadStripe to find. */
export function installOfflineAdapter(options?: AdapterOptions): void {
  const standIn = window.Stripe as unknown as StandInConstructor | undefined;
  if (typeof standIn !== 'function') throw new Error("Load localstripe's Stripe.js stand-in before the offline adapter.");
  window.Stripe = adaptStandIn(standIn, options) as unknown as StripeConstructor;
}

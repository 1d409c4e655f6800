// Loads Stripe.js once. The `pure` entry point injects nothing until
// loadStripe() is called, so in offline mode the stand-in is on the page first
// and loadStripe picks up its (adapted) window.Stripe instead of fetching js.stripe.com.
import type { Stripe } from '@stripe/stripe-js';
import { loadStripe } from '@stripe/stripe-js/pure';

import { api } from './api/endpoints';

function injectScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.async = false;
    script.addEventListener('load', () => resolve());
    script.addEventListener('error', () => reject(new Error(`Could not load ${src}`)));
    document.head.appendChild(script);
  });
}

async function load(): Promise<Stripe | null> {
  const config = await api.payments.config();
  if (config.offline) {
    if (!config.stripeJsUrl) throw new Error('Offline payments are on but no Stripe.js stand-in URL was given.');
    // The adapter is its own chunk: online, the browser never downloads it.
    const [{ installOfflineAdapter }] = await Promise.all([
      import('../offline/adapter'),
      injectScript(config.stripeJsUrl),
    ]);
    installOfflineAdapter();
  }
  return loadStripe(config.publishableKey);
}

let stripePromise: Promise<Stripe | null> | null = null;

/** The page-wide Stripe instance; a failed load is retried on the next call. */
export function getStripe(): Promise<Stripe | null> {
  stripePromise ??= load().catch((error: unknown) => {
    stripePromise = null;
    throw error;
  });
  return stripePromise;
}

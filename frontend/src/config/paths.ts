// Every client-side route, and the functions that build links to them from the same table.
import { generatePath } from 'react-router';

import type { Id } from '../lib/api/types';

export const paths = {
  home: '/',
  signUp: '/signup',
  logIn: '/login',
  forgotPassword: '/forgot-password',
  resetPassword: '/reset-password/:uid/:token',
  account: '/account',
  verifyEmail: '/verify-email/:key',
  publicEvent: '/e/:eventId',
  myEvents: '/events',
  newEvent: '/events/new',
  event: '/events/:eventId',
  editEvent: '/events/:eventId/edit',
  payment: '/events/:eventId/pay',
  paymentStatus: '/payments/status',
  receipt: '/payments/:paymentId/receipt',
} as const;

function withNext(path: string, next?: string | null): string {
  return next ? `${path}?${new URLSearchParams({ next }).toString()}` : path;
}

const byEvent = (path: string) => (eventId: Id) => generatePath(path, { eventId: String(eventId) });

export const links = {
  publicEvent: byEvent(paths.publicEvent),
  event: byEvent(paths.event),
  editEvent: byEvent(paths.editEvent),
  payment: byEvent(paths.payment),
  receipt: (paymentId: Id) => generatePath(paths.receipt, { paymentId: String(paymentId) }),
  logIn: (next?: string | null) => withNext(paths.logIn, next),
  signUp: (next?: string | null) => withNext(paths.signUp, next),
} as const;

/**
 * A post-login destination: a path on this site, as the browser itself would
 * resolve it (it reads `/\\evil.com` as `//evil.com`), or my events.
 */
export function safeNext(next: string | null, origin: string = window.location.origin): string {
  if (!next?.startsWith('/')) return paths.myEvents;
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return paths.myEvents;
  }
  return url.origin === origin ? `${url.pathname}${url.search}${url.hash}` : paths.myEvents;
}

// Every client-side route, and the functions that build links to them.
type Id = string | number;

export const paths = {
  home: '/',
  signUp: '/signup',
  logIn: '/login',
  myEvents: '/events',
  newEvent: '/events/new',
  event: '/events/:eventId',
  payment: '/events/:eventId/pay',
  paymentStatus: '/payments/status',
} as const;

function withNext(path: string, next?: string | null): string {
  return next ? `${path}?${new URLSearchParams({ next }).toString()}` : path;
}

export const links = {
  event: (eventId: Id) => `/events/${encodeURIComponent(String(eventId))}`,
  payment: (eventId: Id) => `/events/${encodeURIComponent(String(eventId))}/pay`,
  logIn: (next?: string | null) => withNext(paths.logIn, next),
  signUp: (next?: string | null) => withNext(paths.signUp, next),
} as const;

/** Only same-site absolute paths may be used as a post-login destination. */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : paths.myEvents;
}

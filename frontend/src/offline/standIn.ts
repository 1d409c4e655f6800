// The parts of localstripe's Stripe.js stand-in the adapter builds on, as the stand-in has them.
export type Handler = (event?: unknown) => void;

export type StandInElement = {
  listeners: Record<string, Handler[] | undefined>;
  mount: (domElement: HTMLElement | string) => void;
  unmount: () => void;
  destroy: () => void;
  on: (event: string, handler: Handler) => void;
};

export type StandInElements = {
  create: (type: string, options?: unknown) => StandInElement;
};

export type StandInStripe = {
  elements: (options?: unknown) => StandInElements;
};

export type StandInConstructor = (publishableKey: string, options?: unknown) => StandInStripe;

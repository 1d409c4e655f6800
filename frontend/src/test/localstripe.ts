// A stand-in for localstripe's Stripe.js stand-in, as it behaves in the browser:
// elements() ignores its options, an element mounts five bare inputs told apart
// by their placeholders, `on` keeps handlers but returns nothing, there is no
// `off` or `update`, and "ready" never fires.
import type { Handler, StandInConstructor, StandInElement } from '../offline/standIn';

const FIELDS = ['number', 'exp_month', 'exp_year', 'cvc', 'postal_code'];

class LocalstripeElement implements StandInElement {
  listeners: Record<string, Handler[] | undefined> = {};
  private children: HTMLElement[] = [];

  mount(domElement: HTMLElement | string) {
    const parent = typeof domElement === 'string' ? document.querySelector(domElement) : domElement;
    const label = document.createElement('span');
    label.textContent = 'localstripe: ';
    this.children = [label];
    for (const field of FIELDS) {
      const input = document.createElement('input');
      input.setAttribute('type', 'text');
      input.setAttribute('placeholder', field);
      this.children.push(input);
    }
    this.children.forEach((child) => parent?.appendChild(child));
  }

  unmount() {
    this.children.forEach((child) => child.remove());
    this.children = [];
  }

  destroy() {
    this.unmount();
  }

  on(event: string, handler: Handler) {
    (this.listeners[event] ??= []).push(handler);
  }
}

export const localstripe: StandInConstructor = () =>
  ({
    elements: () => ({
      create: () => new LocalstripeElement(),
    }),
    createToken: () => Promise.resolve({}),
    createSource: () => Promise.resolve({}),
    createPaymentMethod: () => Promise.resolve({}),
    confirmCardPayment: () => Promise.resolve({}),
  }) as ReturnType<StandInConstructor>;

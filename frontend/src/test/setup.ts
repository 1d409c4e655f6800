import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach } from 'vitest';

// jsdom has <dialog> but not its methods: open and close it as a browser would, minus the focus trap.
if (!('showModal' in HTMLDialogElement.prototype)) {
  Object.assign(HTMLDialogElement.prototype, {
    showModal(this: HTMLDialogElement) {
      this.open = true;
    },
    close(this: HTMLDialogElement) {
      this.open = false;
      this.dispatchEvent(new Event('close'));
    },
  });
}

beforeEach(() => {
  // Django sets this cookie; the API client sends it back as X-CSRFToken.
  document.cookie = 'csrftoken=test-csrf-token; path=/';
});

afterEach(() => {
  cleanup();
});

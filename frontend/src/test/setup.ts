import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, beforeEach } from 'vitest';

beforeEach(() => {
  // Django sets this cookie; the API client sends it back as X-CSRFToken.
  document.cookie = 'csrftoken=test-csrf-token; path=/';
});

afterEach(() => {
  cleanup();
});

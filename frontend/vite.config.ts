import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Django serves the API on the same origin in production; in development the
// Vite server forwards to it so cookies and CSRF behave the same way.
const backend = process.env.EVENTPAY_BACKEND_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  base: '/',
  server: {
    proxy: {
      '/api': backend,
      '/admin': backend,
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    css: false,
    clearMocks: true,
    unstubGlobals: true,
  },
});

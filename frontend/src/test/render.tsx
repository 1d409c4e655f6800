import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router';

import { AuthProvider } from '../components/AuthProvider';

/** Shows where the app navigated to, for assertions. */
export function CurrentLocation() {
  const location = useLocation();
  return <p data-testid="location">{location.pathname + location.search}</p>;
}

/** Renders one page at `url`, matched by `path`, with any extra routes it may navigate to. */
export function renderPage(page: ReactNode, { path, url, extra = {} }: { path: string; url: string; extra?: Record<string, ReactNode> }) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <AuthProvider>
        <Routes>
          <Route path={path} element={page} />
          {Object.entries(extra).map(([extraPath, element]) => (
            <Route key={extraPath} path={extraPath} element={element} />
          ))}
          <Route path="*" element={<CurrentLocation />} />
        </Routes>
      </AuthProvider>
    </MemoryRouter>,
  );
}

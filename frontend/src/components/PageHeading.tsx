import { useContext, useEffect, useRef } from 'react';
import { useLocation } from 'react-router';

import { RouteFocusContext } from '../lib/routeFocus';

/** The page's h1: it names the document and takes focus after a navigation. */
export function PageHeading({ children }: { children: string }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const claimFocus = useContext(RouteFocusContext);
  const { key } = useLocation();

  useEffect(() => {
    document.title = `${children} · EventPay`;
  }, [children]);

  useEffect(() => {
    if (claimFocus?.(key)) heading.current?.focus();
  }, [claimFocus, key]);

  return (
    <h1 ref={heading} tabIndex={-1}>
      {children}
    </h1>
  );
}

import { createContext, useCallback, useRef } from 'react';

/** Asks whether the page heading should take focus for this navigation (once per navigation). */
export type ClaimFocus = (locationKey: string) => boolean;

export const RouteFocusContext = createContext<ClaimFocus | null>(null);

/**
 * The first page is left alone (the browser announces a page load); after each
 * navigation the new page's main heading takes focus once, so screen-reader
 * users hear that the page changed.
 */
export function useRouteFocus(initialKey: string): ClaimFocus {
  const state = useRef({ initialKey, focusedKey: null as string | null });
  return useCallback((locationKey: string) => {
    if (locationKey === state.current.initialKey || locationKey === state.current.focusedKey) return false;
    state.current.focusedKey = locationKey;
    return true;
  }, []);
}

import { createContext, useContext } from 'react';

import type { User } from './api/types';

export type AuthState = {
  /** undefined while the session is being checked, null when anonymous. */
  user: User | null | undefined;
  setUser: (user: User | null) => void;
};

export const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error('useAuth must be used inside <AuthProvider>');
  return state;
}

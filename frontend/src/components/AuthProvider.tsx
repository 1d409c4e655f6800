import { useEffect, useMemo, useState, type ReactNode } from 'react';

import { api, ApiError, type User } from '../lib/api';
import { AuthContext } from '../lib/auth';

/** Asks the API once who is logged in; pages update it on log in and log out. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    api.auth.me(controller.signal).then(setUser, (error: unknown) => {
      if (controller.signal.aborted) return;
      // 401/403 means anonymous; anything else we cannot tell, so treat it the same way.
      if (!(error instanceof ApiError)) console.error(error);
      setUser(null);
    });
    return () => controller.abort();
  }, []);

  const value = useMemo(() => ({ user, setUser }), [user]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

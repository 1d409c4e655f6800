import { useEffect, useMemo, useState, type ReactNode } from 'react';

import { api } from '../lib/api/endpoints';
import { ApiError } from '../lib/api/http';
import type { User } from '../lib/api/types';
import { AuthContext } from '../lib/auth';

/** Asks the API once who is logged in; pages update it on log in and log out. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    api.auth.me(controller.signal).then(
      (me) =>
        setUser(
          me.authenticated
            ? { id: me.id, username: me.username, email: me.email, email_verified: me.email_verified }
            : null,
        ),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        // The server could not say who this is: carry on as a visitor, who can still log in.
        if (!(error instanceof ApiError)) console.error(error);
        setUser(null);
      },
    );
    return () => controller.abort();
  }, []);

  const value = useMemo(() => ({ user, setUser }), [user]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

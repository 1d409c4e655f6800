import { Navigate, Outlet, useLocation } from 'react-router';

import { links } from '../config/paths';
import { useAuth } from '../lib/auth';
import { Loading } from './Loading';

/** Private pages: wait for the session check, send anonymous visitors to log in. */
export function RequireAuth() {
  const { user } = useAuth();
  const location = useLocation();
  if (user === undefined) return <Loading label="Checking your session…" />;
  if (user === null) return <Navigate to={links.logIn(location.pathname + location.search)} replace />;
  return <Outlet />;
}

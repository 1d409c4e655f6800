import { startTransition, Suspense, useState } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router';

import { paths } from '../config/paths';
import { api } from '../lib/api/endpoints';
import { useAuth } from '../lib/auth';
import { RouteFocusContext, useRouteFocus } from '../lib/routeFocus';
import { Alert } from './Alert';
import { EmailVerificationBanner } from './EmailVerificationBanner';
import { errorMessage } from './errorMessage';
import { Loading } from './Loading';

export function Layout() {
  const { user, setUser } = useAuth();
  const navigate = useNavigate();
  const claimFocus = useRouteFocus(useLocation().key);
  const [loggingOut, setLoggingOut] = useState(false);
  const [logoutError, setLogoutError] = useState<string | null>(null);

  async function logOut() {
    setLoggingOut(true);
    setLogoutError(null);
    try {
      await api.auth.logOut();
      // One transition, so the private page never renders logged out and redirects on its own.
      startTransition(() => {
        setUser(null);
        void navigate(paths.logIn, { replace: true, state: { loggedOut: true } });
      });
    } catch (error) {
      setLogoutError(errorMessage(error));
    } finally {
      setLoggingOut(false);
    }
  }

  return (
    <RouteFocusContext.Provider value={claimFocus}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="container header-inner">
          <Link to={paths.home} className="brand">
            EventPay
          </Link>
          <nav aria-label="Main">
            <ul>
              <li>
                <NavLink to={paths.home} end>
                  Live events
                </NavLink>
              </li>
              {user ? (
                <>
                  <li>
                    <NavLink to={paths.myEvents} end>
                      My events
                    </NavLink>
                  </li>
                  <li>
                    <NavLink to={paths.newEvent}>New event</NavLink>
                  </li>
                  <li>
                    <NavLink to={paths.account}>Account</NavLink>
                  </li>
                  <li>
                    <button type="button" className="link-button" onClick={() => void logOut()} disabled={loggingOut}>
                      {loggingOut ? 'Logging out…' : `Log out ${user.username}`}
                    </button>
                  </li>
                </>
              ) : user === null ? (
                <>
                  <li>
                    <NavLink to={paths.logIn}>Log in</NavLink>
                  </li>
                  <li>
                    <NavLink to={paths.signUp}>Sign up</NavLink>
                  </li>
                </>
              ) : null}
            </ul>
          </nav>
        </div>
      </header>
      <main id="main" className="container" tabIndex={-1}>
        {logoutError ? <Alert>{logoutError}</Alert> : null}
        {user?.email_verified === false ? <EmailVerificationBanner email={user.email} /> : null}
        <Suspense fallback={<Loading label="Loading…" />}>
          <Outlet />
        </Suspense>
      </main>
    </RouteFocusContext.Provider>
  );
}

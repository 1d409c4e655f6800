import { lazy } from 'react';
import { Route, Routes } from 'react-router';

import { AuthProvider } from './components/AuthProvider';
import { Layout } from './components/Layout';
import { RequireAuth } from './components/RequireAuth';
import { paths } from './config/paths';
import AccountPage from './pages/AccountPage';
import EditEventPage from './pages/EditEventPage';
import EventPage from './pages/EventPage';
import EventCreationPage from './pages/flow/EventCreationPage';
import ForgotPasswordPage from './pages/ForgotPasswordPage';
import LogInPage from './pages/LogInPage';
import MyEventsPage from './pages/MyEventsPage';
import NotFoundPage from './pages/NotFoundPage';
import PublicEventPage from './pages/PublicEventPage';
import PublicEventsPage from './pages/PublicEventsPage';
import ReceiptPage from './pages/ReceiptPage';
import ResetPasswordPage from './pages/ResetPasswordPage';
import VerifyEmailPage from './pages/VerifyEmailPage';
import SignUpPage from './pages/SignUpPage';

// The Stripe wrappers are only needed on the two checkout pages; keep them out of the main chunk.
const PaymentPage = lazy(() => import('./pages/PaymentPage'));
const PaymentStatusPage = lazy(() => import('./pages/PaymentStatusPage'));

export function App() {
  return (
    <AuthProvider>
      <Routes>
        <Route element={<Layout />}>
          <Route path={paths.home} element={<PublicEventsPage />} />
          <Route path={paths.signUp} element={<SignUpPage />} />
          <Route path={paths.logIn} element={<LogInPage />} />
          <Route path={paths.forgotPassword} element={<ForgotPasswordPage />} />
          <Route path={paths.resetPassword} element={<ResetPasswordPage />} />
          <Route path={paths.verifyEmail} element={<VerifyEmailPage />} />
          <Route path={paths.publicEvent} element={<PublicEventPage />} />
          <Route element={<RequireAuth />}>
            <Route path={paths.myEvents} element={<MyEventsPage />} />
            <Route path={paths.newEvent} element={<EventCreationPage />} />
            <Route path={paths.event} element={<EventPage />} />
            <Route path={paths.editEvent} element={<EditEventPage />} />
            <Route path={paths.payment} element={<PaymentPage />} />
            <Route path={paths.paymentStatus} element={<PaymentStatusPage />} />
            <Route path={paths.receipt} element={<ReceiptPage />} />
            <Route path={paths.account} element={<AccountPage />} />
          </Route>
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </AuthProvider>
  );
}

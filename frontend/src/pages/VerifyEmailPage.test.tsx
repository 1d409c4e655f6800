import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { anonymous, mockApi } from '../test/api';
import { renderPage } from '../test/render';
import VerifyEmailPage from './VerifyEmailPage';

const page = { path: '/verify-email/:key', url: '/verify-email/signed:key' };

describe('VerifyEmailPage', () => {
  it('confirms the address with the link’s key', async () => {
    const api = mockApi({ 'GET /api/auth/me/': { status: 200, body: anonymous }, 'POST /api/auth/email/verify/': { status: 204 } });
    renderPage(<VerifyEmailPage />, page);

    expect(await screen.findByText('Your email address is confirmed.')).toBeInTheDocument();
    expect(api.calls.find((c) => c.path === '/api/auth/email/verify/')?.body).toEqual({ key: 'signed:key' });
  });

  it('says when the link expired', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: anonymous },
      'POST /api/auth/email/verify/': {
        status: 400,
        body: { detail: 'Invalid input.', key: ['This link has expired or is not valid; ask for a new one.'] },
      },
    });
    renderPage(<VerifyEmailPage />, page);

    expect(await screen.findByRole('alert')).toHaveTextContent(/expired or is not valid/);
  });
});

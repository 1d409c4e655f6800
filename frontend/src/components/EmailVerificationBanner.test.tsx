import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { mockApi } from '../test/api';
import { EmailVerificationBanner } from './EmailVerificationBanner';

describe('EmailVerificationBanner', () => {
  it('says nothing is emailed until the address is confirmed, and resends the link', async () => {
    const api = mockApi({ 'POST /api/auth/email/resend/': { status: 204 } });
    render(<EmailVerificationBanner email="ada@example.com" />);

    expect(screen.getByText(/ada@example.com/)).toHaveTextContent(/sends it no emails/);
    await userEvent.setup().click(screen.getByRole('button', { name: 'Resend the link' }));

    expect(await screen.findByRole('status')).toHaveTextContent('A new link is on its way.');
    expect(api.calls.filter((c) => c.path === '/api/auth/email/resend/')).toHaveLength(1);
  });
});

import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { me, mockApi } from '../test/api';
import { renderPage } from '../test/render';
import ReceiptPage from './ReceiptPage';

const receipt = {
  receipt_number: 'EP-2030-000004',
  payment_id: 4,
  event: { id: 7, title: 'Spring meetup', starts_at: '2031-05-01T18:00:00Z' },
  organiser: { username: 'ada', email: 'ada@example.com' },
  amount: 1500,
  currency: 'usd',
  paid_at: '2030-01-02T10:00:00Z',
  card_brand: 'visa',
  card_last4: '4242',
  status: 'succeeded',
  stripe_receipt_url: '',
};

function renderReceipt() {
  return renderPage(<ReceiptPage />, { path: '/payments/:paymentId/receipt', url: '/payments/4/receipt' });
}

describe('ReceiptPage', () => {
  it('shows the receipt and prints it', async () => {
    const print = vi.spyOn(window, 'print').mockImplementation(() => undefined);
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/payments/4/receipt/': { status: 200, body: receipt },
    });
    renderReceipt();

    expect(await screen.findByRole('heading', { level: 1, name: 'Receipt EP-2030-000004' })).toBeInTheDocument();
    expect(screen.getByText('$15.00')).toBeInTheDocument();
    expect(screen.getByText('Visa ending in 4242')).toBeInTheDocument();
    expect(screen.getByText('ada (ada@example.com)')).toBeInTheDocument();
    expect(screen.getByText('Succeeded')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: /stripe’s receipt/i })).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Back to the event' })).toHaveAttribute('href', '/events/7');

    await userEvent.setup().click(screen.getByRole('button', { name: 'Print' }));

    expect(print).toHaveBeenCalledTimes(1);
  });

  it('links to Stripe’s receipt when the charge has one', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/payments/4/receipt/': {
        status: 200,
        body: { ...receipt, status: 'refunded', stripe_receipt_url: 'https://pay.stripe.com/receipts/x' },
      },
    });
    renderReceipt();

    expect(await screen.findByRole('link', { name: /stripe’s receipt/i })).toHaveAttribute(
      'href',
      'https://pay.stripe.com/receipts/x',
    );
    expect(screen.getByText('Refunded')).toBeInTheDocument();
  });

  it('says when there is no receipt to show', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'GET /api/payments/4/receipt/': { status: 404, body: { detail: 'Not found.' } },
    });
    renderReceipt();

    expect(await screen.findByRole('heading', { level: 1, name: 'Receipt not found' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Go to my events' })).toHaveAttribute('href', '/events');
  });
});

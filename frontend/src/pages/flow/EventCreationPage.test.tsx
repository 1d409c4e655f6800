import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { anEvent, me, mockApi, throttled, type Reply } from '../../test/api';
import { renderPage } from '../../test/render';
import EventCreationPage from './EventCreationPage';

function renderForm() {
  return renderPage(<EventCreationPage />, { path: '/events/new', url: '/events/new' });
}

async function fillIn() {
  const u = userEvent.setup();
  await u.type(screen.getByLabelText(/title/i), 'Spring meetup');
  await u.type(screen.getByLabelText(/date and time/i), '2031-05-01T18:00');
  await u.type(screen.getByLabelText(/location/i), 'Hall A');
  await u.type(screen.getByLabelText(/description/i), 'Talks and snacks');
  return u;
}

describe('EventCreationPage', () => {
  it('labels every field', () => {
    mockApi({ 'GET /api/auth/me/': { status: 200, body: me } });
    renderForm();

    for (const name of [/title/i, /date and time/i, /location/i, /description/i]) {
      expect(screen.getByLabelText(name)).toBeInTheDocument();
    }
  });

  it('shows the API field errors next to their fields', async () => {
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'POST /api/events/': {
        status: 400,
        body: { title: ['This field is required.'], starts_at: ['Datetime has wrong format.'] },
      },
    });
    renderForm();

    await userEvent.setup().click(screen.getByRole('button', { name: /create event/i }));

    const title = screen.getByLabelText(/title/i);
    expect(await screen.findByText('This field is required.')).toHaveAttribute('role', 'alert');
    expect(title).toHaveAttribute('aria-invalid', 'true');
    expect(title).toHaveAccessibleDescription('This field is required.');
    expect(screen.getByLabelText(/date and time/i)).toHaveAccessibleDescription(
      expect.stringContaining('Datetime has wrong format.') as string,
    );
    expect(screen.getByText('Please correct the errors below.')).toBeInTheDocument();
  });

  it('posts the event and goes straight to its payment page', async () => {
    const { calls } = mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'POST /api/events/': { status: 201, body: anEvent({ id: 42 }) },
    });
    renderForm();
    const u = await fillIn();

    await u.click(screen.getByRole('button', { name: /create event/i }));

    expect(await screen.findByTestId('location')).toHaveTextContent('/events/42/pay');
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.body).toEqual({
      title: 'Spring meetup',
      starts_at: new Date('2031-05-01T18:00').toISOString(),
      location: 'Hall A',
      description: 'Talks and snacks',
    });
  });

  it('says when to try again once the events an organiser may create in an hour are spent', async () => {
    mockApi({ 'GET /api/auth/me/': { status: 200, body: me }, 'POST /api/events/': throttled(52 * 60) });
    renderForm();
    const u = await fillIn();

    await u.click(screen.getByRole('button', { name: /create event/i }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Too many attempts. Try again in 52 minutes.');
    expect(screen.getByRole('button', { name: /create event/i })).toBeEnabled();
  });

  it('disables the button while submitting', async () => {
    let answer: (reply: Reply) => void = () => undefined;
    mockApi({
      'GET /api/auth/me/': { status: 200, body: me },
      'POST /api/events/': () => new Promise<Reply>((resolve) => (answer = resolve)),
    });
    renderForm();
    const u = await fillIn();

    await u.click(screen.getByRole('button', { name: /create event/i }));

    expect(screen.getByRole('button', { name: /creating event/i })).toBeDisabled();
    answer({ status: 500 });
    await waitFor(() => expect(screen.getByRole('button', { name: /create event/i })).toBeEnabled());
    expect(screen.getByRole('alert')).toHaveTextContent(/server had a problem/i);
  });
});

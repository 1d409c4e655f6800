import { describe, expect, it } from 'vitest';

import { paths, safeNext } from './paths';

const SITE = 'https://pay.example.com';

describe('safeNext', () => {
  it.each([
    ['/events/7/pay', '/events/7/pay'],
    ['/events?page=2#top', '/events?page=2#top'],
    ['/a/../events', '/events'],
  ])('keeps the same-site path %j', (next, destination) => {
    expect(safeNext(next, SITE)).toBe(destination);
  });

  it.each([
    '//evil.com',
    '/\\evil.com',
    '/\\/evil.com',
    '/\t/evil.com',
    'https:evil.com',
    'https://evil.com/events',
    'javascript:alert(1)',
    'events',
    '',
    null,
  ])('refuses %j for my events', (next) => {
    expect(safeNext(next, SITE)).toBe(paths.myEvents);
  });

  it("compares with the page's own origin by default", () => {
    expect(safeNext('/events/7')).toBe('/events/7');
    expect(safeNext('/\\evil.com')).toBe(paths.myEvents);
  });
});

import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import type { Page } from './api/types';
import { usePagedList } from './usePagedList';

type Item = { id: number };

const page = (ids: number[], nextPage: string | null): Page<Item> => ({
  items: ids.map((id) => ({ id })),
  nextPage,
});

describe('usePagedList', () => {
  it('appends each next page until the server says there is none', async () => {
    const load = vi.fn((token: string | null) =>
      Promise.resolve(token === null ? page([1, 2], 'b') : token === 'b' ? page([3], 'c') : page([4], null)),
    );
    const { result } = renderHook(() => usePagedList(load));
    await waitFor(() => expect(result.current.status).toBe('ok'));

    for (const expected of [[1, 2, 3], [1, 2, 3, 4]]) {
      act(() => (result.current.status === 'ok' ? result.current.loadMore() : undefined));
      await waitFor(() => expect(result.current).toMatchObject({ loadingMore: false }));
      expect(result.current).toMatchObject({ items: expected.map((id) => ({ id })) });
    }

    expect(result.current).toMatchObject({ hasMore: false, lastBatch: { from: 3, size: 1 } });
    expect(load.mock.calls.map(([token]) => token)).toEqual([null, 'b', 'c']);
  });

  it('starts over from the first page on reload', async () => {
    const load = vi.fn((token: string | null) => Promise.resolve(token === null ? page([1], 'b') : page([2], null)));
    const { result } = renderHook(() => usePagedList(load));
    await waitFor(() => expect(result.current.status).toBe('ok'));
    act(() => (result.current.status === 'ok' ? result.current.loadMore() : undefined));
    await waitFor(() => expect(result.current).toMatchObject({ items: [{ id: 1 }, { id: 2 }] }));

    act(() => result.current.reload());

    await waitFor(() => expect(result.current).toMatchObject({ status: 'ok', items: [{ id: 1 }], hasMore: true }));
  });
});

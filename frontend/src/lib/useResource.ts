import { useCallback, useEffect, useState } from 'react';

export type Resource<T> =
  | { status: 'loading' }
  | { status: 'ok'; data: T }
  | { status: 'error'; error: unknown };

type Loader<T> = (signal: AbortSignal) => Promise<T>;
type Settled<T> = { load: Loader<T>; round: number; result: Resource<T> };

const LOADING = { status: 'loading' } as const;

/**
 * Runs `load` (memoise it with useCallback) and tracks its result. A new
 * `load` or a reload reads as loading until it settles; the request is
 * aborted on unmount.
 */
export function useResource<T>(load: Loader<T>): [Resource<T>, () => void] {
  const [round, setRound] = useState(0);
  const [settled, setSettled] = useState<Settled<T> | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal).then(
      (data) => setSettled({ load, round, result: { status: 'ok', data } }),
      (error: unknown) => {
        if (!controller.signal.aborted) setSettled({ load, round, result: { status: 'error', error } });
      },
    );
    return () => controller.abort();
  }, [load, round]);

  const reload = useCallback(() => setRound((n) => n + 1), []);
  const current = settled && settled.load === load && settled.round === round ? settled.result : LOADING;
  return [current, reload];
}

import { Alert } from './Alert';
import { errorMessage } from './errorMessage';

/** A list that could not be loaded: why, and a way to try again. */
export function LoadError({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  return (
    <Alert>
      {errorMessage(error)}{' '}
      <button type="button" className="link-button" onClick={onRetry}>
        Retry
      </button>
    </Alert>
  );
}

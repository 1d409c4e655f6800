import { useId, useRef, useState } from 'react';
import { Link } from 'react-router';

/** The public page's address, to open or to copy and share. */
export function ShareLink({ path }: { path: string }) {
  const url = new URL(path, window.location.origin).toString();
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [message, setMessage] = useState('');

  async function copy() {
    try {
      await navigator.clipboard.writeText(url);
      setMessage('Link copied.');
    } catch {
      // No clipboard access (an insecure origin, a refused permission): leave it ready to copy by hand.
      input.current?.select();
      setMessage('Press Ctrl+C (⌘C on a Mac) to copy the selected link.');
    }
  }

  return (
    <section className="share" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Public page</h2>
      <p>
        <Link to={path}>Open the public page</Link>
      </p>
      <div className="share-row">
        <label htmlFor={id} className="visually-hidden">
          Link to the public page
        </label>
        <input id={id} ref={input} type="url" readOnly value={url} onFocus={(e) => e.target.select()} />
        <button type="button" className="button button-secondary button-small" onClick={() => void copy()}>
          Copy link
        </button>
      </div>
      <p role="status" className="hint">
        {message}
      </p>
    </section>
  );
}

import { Link } from 'react-router';

import { paths } from '../config/paths';

export default function NotFoundPage() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        <Link to={paths.home}>Go to the live events</Link>
      </p>
    </section>
  );
}

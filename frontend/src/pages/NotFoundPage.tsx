import { Link } from 'react-router';

import { PageHeading } from '../components/PageHeading';
import { paths } from '../config/paths';

export default function NotFoundPage() {
  return (
    <section>
      <PageHeading>Page not found</PageHeading>
      <p>
        <Link to={paths.home}>Go to the live events</Link>
      </p>
    </section>
  );
}

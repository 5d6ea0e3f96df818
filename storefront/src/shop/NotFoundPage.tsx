import { Link } from 'react-router-dom';
import { usePageTitle } from '../Layout';

export function NotFoundPage() {
  usePageTitle('Page not found');
  return (
    <div className="page stack">
      <h1>Page not found</h1>
      <p>There is nothing at this address. It may have moved, or the link may be mistyped.</p>
      <p>
        <Link to="/">Go to the home page</Link> or <Link to="/catalog">browse the catalog</Link>.
      </p>
    </div>
  );
}

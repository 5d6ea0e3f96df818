import { Link } from 'react-router-dom';
import { useQuery } from '@apollo/client/react';
import { useSession } from '../account/session';
import { ErrorMessage } from '../errors';
import { MyOrdersDocument } from '../gql/graphql';
import { usePageTitle } from '../Layout';
import { formatDate, STATUS_WORDS } from './orderStatus';

/** The signed-in shopper's orders, newest first, with their status. */
export function OrdersPage() {
  usePageTitle('Your orders');
  const { user, loading: sessionLoading } = useSession();
  const { data, loading, error, fetchMore } = useQuery(MyOrdersDocument, {
    variables: { first: 20 },
    skip: !user,
    fetchPolicy: 'cache-and-network',
  });

  if (sessionLoading) return <p className="page muted">Loading…</p>;
  if (!user)
    return (
      <div className="page stack">
        <h1>Your orders</h1>
        <p className="notice">
          Please <Link to="/sign-in">sign in</Link> to see your orders.
        </p>
      </div>
    );
  const orders = data?.me?.orders;

  return (
    <div className="page stack">
      <h1>Your orders</h1>
      <ErrorMessage error={error} />
      {loading && !orders && <p className="muted">Loading your orders…</p>}
      {orders && orders.edges.length === 0 && (
        <p>
          No orders yet. <Link to="/catalog">Find something you like</Link>.
        </p>
      )}
      {orders && orders.edges.length > 0 && (
        <div className="table-wrap">
          <table className="orders-table">
            <caption className="visually-hidden">Your orders, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Placed</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Total
                </th>
              </tr>
            </thead>
            <tbody>
              {orders.edges.map(({ node }) => (
                <tr key={node.id}>
                  <th scope="row">
                    <Link to={`/orders/${node.id}`}>{node.number}</Link>
                  </th>
                  <td>{formatDate(node.createdAt)}</td>
                  <td>
                    <span className={`status status-${node.status.toLowerCase()}`}>{STATUS_WORDS[node.status]}</span>
                  </td>
                  <td className="num">{node.total.formatted}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {orders?.pageInfo.hasNextPage && (
        <button
          type="button"
          className="button"
          onClick={() =>
            void fetchMore({
              variables: { after: orders.pageInfo.endCursor },
              updateQuery: (prev, { fetchMoreResult }) => {
                if (!prev.me || !fetchMoreResult.me) return prev as typeof fetchMoreResult;
                return {
                  ...fetchMoreResult,
                  me: {
                    ...fetchMoreResult.me,
                    orders: {
                      ...fetchMoreResult.me.orders,
                      edges: [...prev.me.orders.edges, ...fetchMoreResult.me.orders.edges],
                    },
                  },
                };
              },
            })
          }
        >
          Show older orders
        </button>
      )}
    </div>
  );
}

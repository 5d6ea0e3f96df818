import { useState } from 'react';
import { useMutation, useQuery } from '@apollo/client/react';
import { useSearchParams } from 'react-router-dom';
import { describeError, ErrorMessage } from '../errors';
import { AdminOrdersDocument, UpdateOrderStatusDocument, type OrderStatus } from '../gql/graphql';
import { CursorPager, Problem, TableBox } from './AdminGate';

const PAGE_SIZE = 20;

export const STATUS_WORDS: Record<OrderStatus, string> = {
  PENDING: 'Pending',
  PAID: 'Paid',
  SHIPPED: 'Shipped',
  DELIVERED: 'Delivered',
  CANCELLED: 'Cancelled',
  PAYMENT_FAILED: 'Payment failed',
};
const STATUSES = Object.keys(STATUS_WORDS) as OrderStatus[];

/** The moves updateOrderStatus allows (its documentation); only these are offered. */
export const NEXT_STATUSES: Record<OrderStatus, OrderStatus[]> = {
  PENDING: ['PAID', 'PAYMENT_FAILED', 'CANCELLED'],
  PAID: ['SHIPPED', 'CANCELLED'],
  SHIPPED: ['DELIVERED'],
  DELIVERED: [],
  CANCELLED: [],
  PAYMENT_FAILED: [],
};

const when = (iso: string) => new Date(iso).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short' });

/** /admin/orders: every order, newest first, filtered by status; status changes limited to the legal moves. */
export function OrdersPage() {
  const [params, setParams] = useSearchParams();
  const raw = params.get('status');
  const status = raw && raw in STATUS_WORDS ? (raw as OrderStatus) : undefined;
  const after = params.get('after') ?? undefined;
  const [trail, setTrail] = useState<(string | undefined)[]>([]);
  // Kept here, not in the row: with a status filter the changed order leaves the list when it is refetched.
  const [changed, setChanged] = useState<string>();
  const { data, previousData, loading, error } = useQuery(AdminOrdersDocument, {
    variables: { first: PAGE_SIZE, after, status },
    fetchPolicy: 'cache-and-network',
  });
  const orders = (data ?? previousData)?.orders;
  const go = (next: { status?: string; after?: string }) => {
    const p = new URLSearchParams();
    if (next.status) p.set('status', next.status);
    if (next.after) p.set('after', next.after);
    setParams(p);
  };

  return (
    <section className="stack" aria-labelledby="admin-orders-title">
      <h1 id="admin-orders-title">Orders</h1>
      <div className="form admin-search">
        <div className="field">
          <label htmlFor="orders-status">Status</label>
          <select
            id="orders-status"
            value={status ?? ''}
            onChange={(e) => {
              setTrail([]);
              setChanged(undefined);
              go({ status: e.target.value });
            }}
          >
            <option value="">All statuses</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_WORDS[s]}
              </option>
            ))}
          </select>
        </div>
      </div>
      {changed && (
        <p className="notice" role="status">
          {changed}
        </p>
      )}
      <ErrorMessage error={error} />
      {!orders && loading && <p role="status">Loading orders…</p>}
      {orders && (
        <>
          <p role="status" aria-live="polite">
            {orders.totalCount === 1 ? '1 order' : `${orders.totalCount} orders`}
            {status ? ` with status ${STATUS_WORDS[status]}` : ''}
            {loading ? ' (updating…)' : ''}
          </p>
          {orders.edges.length === 0 ? (
            <p>No orders.</p>
          ) : (
            <TableBox label="Orders">
              <table className="admin-table admin-orders">
                <caption className="visually-hidden">Orders</caption>
                <thead>
                  <tr>
                    <th scope="col">Order</th>
                    <th scope="col">Placed</th>
                    <th scope="col">Customer</th>
                    <th scope="col" className="num">
                      Total
                    </th>
                    <th scope="col">Payment</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {orders.edges.map(({ node }) => (
                    <tr key={node.id}>
                      <th scope="row">{node.number}</th>
                      <td>
                        <time dateTime={node.createdAt}>{when(node.createdAt)}</time>
                      </td>
                      <td>{node.user.email}</td>
                      <td className="num price">{node.total.formatted}</td>
                      <td>{node.payment ? `${node.payment.status} (${node.payment.provider})` : '—'}</td>
                      <td>
                        <StatusControl id={node.id} number={node.number} status={node.status} onChanged={setChanged} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableBox>
          )}
          <CursorPager
            after={after}
            trail={trail}
            setTrail={setTrail}
            pageInfo={orders.pageInfo}
            go={(cursor) => go({ status, after: cursor })}
          />
        </>
      )}
    </section>
  );
}

function StatusControl({
  id,
  number,
  status,
  onChanged,
}: {
  id: string;
  number: string;
  status: OrderStatus;
  onChanged: (message: string) => void;
}) {
  const next = NEXT_STATUSES[status];
  const [target, setTarget] = useState<OrderStatus | ''>('');
  const [problem, setProblem] = useState<{ code: string; text: string }>();
  const [failure, setFailure] = useState<unknown>();
  const [update, { loading }] = useMutation(UpdateOrderStatusDocument, { refetchQueries: [AdminOrdersDocument] });
  const selectId = `order-${id}-status`;

  return (
    <div className="stack admin-status">
      <span className="admin-badge" data-status={status}>
        {STATUS_WORDS[status]}
      </span>
      {next.length > 0 && (
        <form
          className="admin-row"
          onSubmit={async (e) => {
            e.preventDefault();
            setProblem(undefined);
            setFailure(undefined);
            if (!target) {
              setProblem({ code: 'INVALID_INPUT', text: 'Choose the new status first.' });
              document.getElementById(selectId)?.focus();
              return;
            }
            try {
              await update({ variables: { id, status: target } });
              onChanged(`Order ${number} is now ${STATUS_WORDS[target].toLowerCase()}.`);
              setTarget('');
            } catch (err) {
              const p = describeError(err);
              if (p?.field === 'status') setProblem({ code: p.code, text: p.text });
              else setFailure(err);
            }
          }}
        >
          <label className="visually-hidden" htmlFor={selectId}>
            New status for order {number}
          </label>
          <select id={selectId} value={target} onChange={(e) => setTarget(e.target.value as OrderStatus | '')}>
            <option value="">Change to…</option>
            {next.map((s) => (
              <option key={s} value={s}>
                {STATUS_WORDS[s]}
              </option>
            ))}
          </select>
          <button className="button" type="submit" disabled={loading}>
            Change<span className="visually-hidden"> status of order {number}</span>
          </button>
        </form>
      )}
      {problem && <Problem code={problem.code} text={problem.text} />}
      <ErrorMessage error={failure} />
    </div>
  );
}

import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from '@apollo/client/react';
import { describeError, ErrorMessage } from '../errors';
import { TableBox } from './AdminGate';
import { AdjustStockDocument, StockHistoryDocument } from '../gql/graphql';
import type { AdminProductView } from './ProductEditor';

const HISTORY_PAGE = 10;
type Shown = { code: string; text: string };
const invalid = (text: string): Shown => ({ code: 'INVALID_INPUT', text });
const when = (iso: string) => new Date(iso).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short' });

/** Stock on hand: adjust by a signed number of units with a reason; the history lists every movement, newest first. */
export function StockPanel({ product }: { product: AdminProductView }) {
  const [delta, setDelta] = useState('');
  const [reason, setReason] = useState('');
  const [problems, setProblems] = useState<{ delta?: Shown; reason?: Shown }>({});
  const [failure, setFailure] = useState<unknown>();
  const [done, setDone] = useState<string>();
  const [shown, setShown] = useState(HISTORY_PAGE);
  const [adjust, { loading }] = useMutation(AdjustStockDocument);
  const history = useQuery(StockHistoryDocument, {
    variables: { productId: product.id, first: shown },
    fetchPolicy: 'cache-and-network',
  });
  const movements = (history.data ?? history.previousData)?.stockHistory;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setFailure(undefined);
    setDone(undefined);
    const found: typeof problems = {};
    const d = delta.trim().replace(/^\+/, '');
    if (!/^-?\d+$/.test(d) || Number(d) === 0)
      found.delta = invalid('Enter a whole number of units other than 0: positive to add, negative to remove.');
    else if (Math.abs(Number(d)) > 1_000_000_000) found.delta = invalid('That change is too large.');
    const r = reason.trim();
    if (!r) found.reason = invalid('Say why the stock changes, e.g. “Delivery #42”.');
    else if ([...r].length > 200) found.reason = invalid('The reason must be at most 200 characters.');
    setProblems(found);
    if (found.delta || found.reason) {
      document.getElementById(found.delta ? 'stock-delta' : 'stock-reason')?.focus();
      return;
    }
    try {
      const res = await adjust({ variables: { productId: product.id, delta: Number(d), reason: r } });
      await history.refetch();
      setDelta('');
      setReason('');
      setDone(`Stock adjusted: ${res.data?.adjustStock.stock ?? ''} available now.`);
    } catch (err) {
      const p = describeError(err);
      if (p?.field === 'delta' || p?.field === 'reason') {
        setProblems({ [p.field]: { code: p.code, text: p.text } });
        document.getElementById(`stock-${p.field}`)?.focus();
      } else setFailure(err);
    }
  };

  return (
    <section className="stack card" aria-labelledby="stock-title">
      <h2 id="stock-title">Stock</h2>
      <p>
        Available now: <strong data-testid="admin-stock">{product.stock}</strong> (
        {product.inStock ? 'in stock' : 'out of stock'}; units held in shoppers’ carts are not counted)
      </p>
      <form className="form admin-form" noValidate onSubmit={onSubmit}>
        <h3>Adjust stock</h3>
        <div className="admin-row">
          <div className="field">
            <label htmlFor="stock-delta">Change in units</label>
            <input
              id="stock-delta"
              value={delta}
              onChange={(e) => setDelta(e.target.value)}
              inputMode="numeric"
              autoComplete="off"
              aria-invalid={problems.delta ? true : undefined}
              aria-describedby={problems.delta ? 'stock-delta-hint stock-delta-error' : 'stock-delta-hint'}
            />
            <p className="hint" id="stock-delta-hint">
              For example 10 to add a delivery, -2 to remove damaged units.
            </p>
            {problems.delta && (
              <p className="error" role="alert" id="stock-delta-error" data-code={problems.delta.code}>
                {problems.delta.text}
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor="stock-reason">Reason</label>
            <input
              id="stock-reason"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              maxLength={200}
              aria-invalid={problems.reason ? true : undefined}
              aria-describedby={problems.reason ? 'stock-reason-error' : undefined}
            />
            {problems.reason && (
              <p className="error" role="alert" id="stock-reason-error" data-code={problems.reason.code}>
                {problems.reason.text}
              </p>
            )}
          </div>
        </div>
        <ErrorMessage error={failure} />
        {done && (
          <p className="notice" role="status">
            {done}
          </p>
        )}
        <div>
          <button className="button button-primary" type="submit" disabled={loading}>
            Adjust stock
          </button>
        </div>
      </form>

      <h3 id="stock-history-title">Stock history</h3>
      {history.error && !movements ? (
        <ErrorMessage error={history.error} />
      ) : !movements ? (
        <p role="status">Loading the history…</p>
      ) : movements.edges.length === 0 ? (
        <p>No stock movements yet.</p>
      ) : (
        <>
          <TableBox label="Stock history">
            <table className="admin-table" aria-labelledby="stock-history-title">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col" className="num">
                    Change
                  </th>
                  <th scope="col">Reason</th>
                  <th scope="col" className="num">
                    On hand after
                  </th>
                </tr>
              </thead>
              <tbody>
                {movements.edges.map(({ node }) => (
                  <tr key={node.id}>
                    <td>
                      <time dateTime={node.createdAt}>{when(node.createdAt)}</time>
                    </td>
                    <td className="num">{node.delta > 0 ? `+${node.delta}` : node.delta}</td>
                    <td>{node.reason}</td>
                    <td className="num">{node.resultingStock}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableBox>
          <p>
            Showing {movements.edges.length} of {movements.totalCount} movements.
          </p>
          {movements.pageInfo.hasNextPage && shown < 100 && (
            <div>
              <button className="button" type="button" onClick={() => setShown((n) => Math.min(100, n + HISTORY_PAGE))}>
                Show more movements
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from '@apollo/client/react';
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { describeError, ErrorMessage } from '../errors';
import {
  AdminProductDocument,
  CategoriesDocument,
  CreateProductDocument,
  DeleteProductDocument,
  UpdateProductDocument,
  type AdminProductQuery,
} from '../gql/graphql';
import { ImagesPanel } from './ImagesPanel';
import { parsePrice, toDecimal } from './price';
import { StockPanel } from './StockPanel';

export type AdminProductView = NonNullable<AdminProductQuery['product']>;

/** The currencies the API accepts (lib/src/money.ts SUPPORTED_CURRENCIES); it checks again (field currency). */
const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'CHF', 'CAD', 'AUD', 'SEK', 'NOK', 'DKK', 'PLN'];
const SKU = /^[A-Za-z0-9._-]+$/;
const CONTROL = /[\u0000-\u001f\u007f]/;
const chars = (s: string) => [...s].length;

type Field = 'sku' | 'name' | 'description' | 'category' | 'price' | 'currency' | 'stock';
const FIELDS: Field[] = ['sku', 'name', 'category', 'price', 'currency', 'stock', 'description'];
type Values = Record<Field, string>;
type Errors = Partial<Record<Field, { code: string; text: string }>>;

/** The API's rules (CreateProductInput / UpdateProductInput docs), checked before sending; the API checks again. */
function validate(v: Values, creating: boolean): Errors {
  const e: Errors = {};
  const bad = (text: string) => ({ code: 'INVALID_INPUT', text });
  if (creating) {
    const sku = v.sku.trim();
    if (!sku) e.sku = bad('Enter a SKU.');
    else if (sku.length > 64) e.sku = bad('The SKU must be at most 64 characters.');
    else if (!SKU.test(sku)) e.sku = bad('The SKU may contain only letters, digits, ".", "_" and "-".');
    if (!/^\d+$/.test(v.stock.trim())) e.stock = bad('Enter the units on hand as a whole number, 0 or more.');
    else if (Number(v.stock) > 1_000_000_000) e.stock = bad('That is more stock than the shop can record.');
  }
  const name = v.name.trim();
  if (!name) e.name = bad('Enter a name.');
  else if (chars(name) > 200) e.name = bad('The name must be at most 200 characters.');
  else if (CONTROL.test(name)) e.name = bad('The name must not contain control characters.');
  if (chars(v.description.trim()) > 5000) e.description = bad('The description must be at most 5000 characters.');
  if (!v.category) e.category = bad('Choose a category.');
  const price = parsePrice(v.price, v.currency);
  if (!price.ok) e.price = bad(price.message);
  return e;
}

/** /admin/products/new and /admin/products/:id. */
export function ProductEditor() {
  const { id } = useParams();
  return id ? <ExistingProduct key={id} id={id} /> : <ProductForm />;
}

function ExistingProduct({ id }: { id: string }) {
  const location = useLocation();
  const notice = (location.state as { notice?: string } | null)?.notice;
  const { data, loading, error, refetch } = useQuery(AdminProductDocument, { variables: { id } });
  if (loading && !data) return <p role="status">Loading product…</p>;
  if (error && !data) return <ErrorMessage error={error} />;
  const product = data?.product;
  if (!product) {
    return (
      <section className="stack">
        <h1>Product not found</h1>
        <p>
          We could not find that product. <Link to="/admin">Back to the products</Link>
        </p>
      </section>
    );
  }
  return (
    <div className="stack">
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <ProductForm product={product} />
      <ImagesPanel product={product} onChanged={() => refetch()} />
      <StockPanel product={product} />
      <ArchivePanel product={product} />
    </div>
  );
}

function ProductForm({ product }: { product?: AdminProductView }) {
  const creating = !product;
  const navigate = useNavigate();
  const initial: Values = {
    sku: product?.sku ?? '',
    name: product?.name ?? '',
    description: product?.description ?? '',
    category: product?.category.slug ?? '',
    price: product ? toDecimal(product.price.amount, product.price.currency) : '',
    currency: product?.price.currency ?? 'USD',
    stock: creating ? '0' : '',
  };
  const [values, setValues] = useState<Values>(initial);
  const [errors, setErrors] = useState<Errors>({});
  const [failure, setFailure] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const categories = useQuery(CategoriesDocument);
  const [create, creatingState] = useMutation(CreateProductDocument);
  const [update, updatingState] = useMutation(UpdateProductDocument);
  const busy = creatingState.loading || updatingState.loading;
  const form = useRef<HTMLFormElement>(null);

  // After a failed submit, focus the first field with a message so keyboard and screen reader users land on it.
  const [focusTick, setFocusTick] = useState(0);
  useEffect(() => {
    if (!focusTick) return;
    const first = FIELDS.find((f) => errors[f]);
    if (first) form.current?.querySelector<HTMLElement>(`[name="${first}"]`)?.focus();
  }, [focusTick, errors]);

  const set = (field: Field) => (e: { target: { value: string } }) => {
    setValues((v) => ({ ...v, [field]: e.target.value }));
    setSaved(undefined);
  };

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setFailure(undefined);
    setSaved(undefined);
    const found = validate(values, creating);
    setErrors(found);
    if (Object.keys(found).length) {
      setFocusTick((t) => t + 1);
      return;
    }
    const price = parsePrice(values.price, values.currency);
    if (!price.ok) return;
    try {
      if (creating) {
        const r = await create({
          variables: {
            input: {
              sku: values.sku.trim(),
              name: values.name.trim(),
              description: values.description.trim(),
              category: values.category,
              price: price.amount,
              currency: values.currency,
              stock: Number(values.stock.trim()),
            },
          },
        });
        const created = r.data?.createProduct;
        if (created)
          void navigate(`/admin/products/${created.id}`, { state: { notice: `${created.name} was created.` } });
        return;
      }
      const input: { name?: string; description?: string; category?: string; price?: number } = {};
      if (values.name.trim() !== product.name) input.name = values.name.trim();
      if (values.description.trim() !== product.description) input.description = values.description.trim();
      if (values.category !== product.category.slug) input.category = values.category;
      if (price.amount !== product.price.amount) input.price = price.amount;
      if (!Object.keys(input).length) {
        setSaved('Nothing to save: no changes.');
        return;
      }
      await update({ variables: { id: product.id, input } });
      setSaved('Changes saved.');
    } catch (err) {
      const problem = describeError(err);
      const field = problem?.field as Field | undefined;
      if (problem && field && FIELDS.includes(field)) {
        setErrors({ [field]: { code: problem.code, text: problem.text } });
        setFocusTick((t) => t + 1);
      } else setFailure(err);
    }
  };

  const fieldProps = (field: Field) => ({
    id: `product-${field}`,
    name: field,
    'aria-invalid': errors[field] ? true : undefined,
    'aria-describedby':
      [errors[field] ? `product-${field}-error` : '', hints[field] ? `product-${field}-hint` : '']
        .filter(Boolean)
        .join(' ') || undefined,
  });
  const hints: Partial<Record<Field, string>> = {
    sku: 'Letters, digits, ".", "_" and "-"; cannot be changed later.',
    price: `In ${values.currency}, e.g. ${values.currency === 'JPY' ? '1500' : '19.99'}.`,
    stock: 'Units on hand now; later changes go through “Adjust stock”.',
  };
  const below = (field: Field) => (
    <>
      {hints[field] && (
        <p className="hint" id={`product-${field}-hint`}>
          {hints[field]}
        </p>
      )}
      {errors[field] && (
        <p className="error" id={`product-${field}-error`} role="alert" data-code={errors[field].code}>
          {errors[field].text}
        </p>
      )}
    </>
  );

  const title = creating ? 'New product' : `Edit ${product.name}`;
  return (
    <section className="stack" aria-labelledby="product-form-title">
      <h1 id="product-form-title">{title}</h1>
      {product?.archivedAt && <p className="notice">This product is archived: it is no longer listed in the shop.</p>}
      <form ref={form} className="form admin-form" noValidate onSubmit={onSubmit}>
        <div className="field">
          <label htmlFor="product-sku">SKU</label>
          {creating ? (
            <input {...fieldProps('sku')} value={values.sku} onChange={set('sku')} maxLength={64} autoComplete="off" />
          ) : (
            <input id="product-sku" value={product.sku} readOnly />
          )}
          {creating && below('sku')}
        </div>
        <div className="field">
          <label htmlFor="product-name">Name</label>
          <input {...fieldProps('name')} value={values.name} onChange={set('name')} maxLength={200} />
          {below('name')}
        </div>
        <div className="field">
          <label htmlFor="product-category">Category</label>
          <select {...fieldProps('category')} value={values.category} onChange={set('category')}>
            <option value="">Choose a category</option>
            {categories.data?.categories.map((c) => (
              <option key={c.slug} value={c.slug}>
                {c.name}
              </option>
            ))}
          </select>
          {below('category')}
          <ErrorMessage error={categories.error} />
        </div>
        <div className="admin-row">
          <div className="field">
            <label htmlFor="product-price">Price</label>
            <input
              {...fieldProps('price')}
              value={values.price}
              onChange={set('price')}
              inputMode="decimal"
              autoComplete="off"
            />
            {below('price')}
          </div>
          <div className="field">
            <label htmlFor="product-currency">Currency</label>
            {creating ? (
              <select {...fieldProps('currency')} value={values.currency} onChange={set('currency')}>
                {CURRENCIES.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            ) : (
              <input id="product-currency" value={values.currency} readOnly />
            )}
            {creating && below('currency')}
          </div>
          {creating && (
            <div className="field">
              <label htmlFor="product-stock">Initial stock</label>
              <input {...fieldProps('stock')} value={values.stock} onChange={set('stock')} inputMode="numeric" />
              {below('stock')}
            </div>
          )}
        </div>
        <div className="field">
          <label htmlFor="product-description">Description</label>
          <textarea {...fieldProps('description')} value={values.description} onChange={set('description')} rows={6} />
          {below('description')}
        </div>
        <ErrorMessage error={failure} />
        {saved && (
          <p className="notice" role="status">
            {saved}
          </p>
        )}
        <div>
          <button className="button button-primary" type="submit" disabled={busy}>
            {creating ? 'Create product' : 'Save changes'}
          </button>
        </div>
      </form>
    </section>
  );
}

/** deleteProduct archives: the product leaves the shop's lists but orders keep resolving it. */
function ArchivePanel({ product }: { product: AdminProductView }) {
  const [confirming, setConfirming] = useState(false);
  const [archive, { loading, error }] = useMutation(DeleteProductDocument);
  const navigate = useNavigate();
  if (product.archivedAt) return null;
  return (
    <section className="stack card" aria-labelledby="archive-title">
      <h2 id="archive-title">Archive</h2>
      <p>Archiving removes the product from the catalog, search and deals. Orders keep showing it.</p>
      {confirming ? (
        <div className="admin-row" role="group" aria-label="Confirm archiving">
          <button
            className="button"
            type="button"
            disabled={loading}
            onClick={async () => {
              try {
                await archive({ variables: { id: product.id } });
                void navigate('/admin', { state: { notice: `${product.name} was archived.` } });
              } catch {
                /* shown below */
              }
            }}
          >
            Yes, archive {product.name}
          </button>
          <button className="button" type="button" onClick={() => setConfirming(false)} autoFocus>
            Keep it
          </button>
        </div>
      ) : (
        <div>
          <button className="button" type="button" onClick={() => setConfirming(true)}>
            Archive product
          </button>
        </div>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}

import { useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useQuery } from '@apollo/client/react';
import { useCart } from '../cart/CartContext';
import { ErrorMessage } from '../errors';
import { ProductDetailDocument } from '../gql/graphql';
import { usePageTitle } from '../Layout';
import { Price } from './Price';
import { ProductImage } from './ProductImage';

/** At most this many units per product in a cart (the API's bound). */
const MAX_PER_LINE = 99;

/** One product: its pictures at the right size, description, stock, deal price, and "Add to cart". */
export function ProductPage() {
  const { id = '' } = useParams();
  const { data, loading, error, refetch } = useQuery(ProductDetailDocument, {
    variables: { id },
    fetchPolicy: 'cache-and-network',
  });
  const product = data?.product;
  usePageTitle(product?.name ?? 'Product');
  const cart = useCart();
  const [quantity, setQuantity] = useState('1');
  const [adding, setAdding] = useState(false);
  const [added, setAdded] = useState<number | null>(null);
  const [addError, setAddError] = useState<unknown>(null);

  if (loading && !product) return <p className="page muted">Loading…</p>;
  if (error && !product)
    return (
      <div className="page">
        <ErrorMessage error={error} />
      </div>
    );
  if (!product)
    return (
      <div className="page stack">
        <h1>Product not found</h1>
        <p>
          This product does not exist (any more). <Link to="/catalog">Browse the catalog</Link>.
        </p>
      </div>
    );

  const max = Math.max(1, Math.min(MAX_PER_LINE, product.stock));
  const [main, ...more] = product.images;

  async function onAdd(e: FormEvent) {
    e.preventDefault();
    const n = Number.parseInt(quantity, 10);
    if (!Number.isInteger(n) || n < 1) return;
    setAdding(true);
    setAddError(null);
    setAdded(null);
    try {
      await cart.add(product!.id, n);
      setAdded(n);
    } catch (err) {
      setAddError(err);
    } finally {
      setAdding(false);
      // Held units lower what others can buy: show the stock as it is now.
      void refetch();
    }
  }

  return (
    <div className="page product-page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/catalog">Catalog</Link> <span aria-hidden="true">/</span>{' '}
        <Link to={`/catalog?category=${encodeURIComponent(product.category.slug)}`}>{product.category.name}</Link>
      </nav>
      <div className="product-layout">
        <div className="gallery">
          <ProductImage
            image={main}
            alt={product.name}
            sizes="(min-width: 900px) 560px, 100vw"
            eager
            className="gallery-main"
          />
          {more.length > 0 && (
            <ul className="gallery-more">
              {more.map((img) => (
                <li key={img.id}>
                  <ProductImage image={img} alt={img.alt ?? product.name} sizes="160px" />
                </li>
              ))}
            </ul>
          )}
        </div>
        <div className="stack product-info">
          <h1>{product.name}</h1>
          <Price product={product} large />
          {product.deal && (
            <p className="muted">
              Deal ends{' '}
              {new Date(product.deal.expiresAt).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short' })}
            </p>
          )}
          <p className={product.inStock ? 'stock in-stock' : 'stock out-of-stock'}>
            {product.inStock ? `In stock: ${product.stock} available` : 'Out of stock'}
          </p>
          <form className="form add-to-cart" onSubmit={(e) => void onAdd(e)}>
            <div className="field field-quantity">
              <label htmlFor="quantity">Quantity</label>
              <input
                id="quantity"
                type="number"
                inputMode="numeric"
                min={1}
                max={max}
                value={quantity}
                onChange={(e) => setQuantity(e.target.value)}
                disabled={!product.inStock}
              />
            </div>
            <button type="submit" className="button button-primary" disabled={!product.inStock || adding}>
              {adding ? 'Adding…' : 'Add to cart'}
            </button>
          </form>
          <ErrorMessage error={addError} />
          {added !== null && (
            <p className="notice success" role="status">
              Added {added} to your cart. <Link to="/cart">View cart</Link>
            </p>
          )}
          <section aria-labelledby="about-heading" className="stack-sm">
            <h2 id="about-heading" className="h-small">
              About this product
            </h2>
            {product.description.split(/\n{2,}/).map((para, i) => (
              <p key={i} className="description">
                {para}
              </p>
            ))}
            <p className="muted">SKU {product.sku}</p>
          </section>
        </div>
      </div>
    </div>
  );
}

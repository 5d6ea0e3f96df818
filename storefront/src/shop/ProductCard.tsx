import { Link } from 'react-router-dom';
import type { ProductCardFragment } from '../gql/graphql';
import { Price } from './Price';
import { ProductImage } from './ProductImage';

/** One product in a grid: picture, name (the link), price and availability. */
export function ProductCard({ product }: { product: ProductCardFragment }) {
  return (
    <article className="card product-card">
      <ProductImage
        image={product.images[0]}
        alt={product.name}
        sizes="(min-width: 1024px) 240px, (min-width: 640px) 33vw, 50vw"
        className="card-image"
      />
      <div className="card-body">
        <h3 className="card-title">
          <Link to={`/products/${product.id}`}>{product.name}</Link>
        </h3>
        <Price product={product} />
        {!product.inStock && <p className="muted">Out of stock</p>}
      </div>
    </article>
  );
}

export function ProductGrid({ products, label }: { products: ProductCardFragment[]; label: string }) {
  return (
    <ul className="grid product-grid" aria-label={label}>
      {products.map((p) => (
        <li key={p.id}>
          <ProductCard product={p} />
        </li>
      ))}
    </ul>
  );
}

import type { ProductCardFragment } from '../gql/graphql';

/** The price a shopper pays: the deal price with the regular one struck through, or just the regular price. */
export function Price({
  product,
  large = false,
}: {
  product: Pick<ProductCardFragment, 'price' | 'deal'>;
  large?: boolean;
}) {
  const { price, deal } = product;
  if (!deal) return <p className={`price ${large ? 'price-large' : ''}`}>{price.formatted}</p>;
  return (
    <p className={`price deal ${large ? 'price-large' : ''}`}>
      <span className="visually-hidden">Deal price </span>
      <strong className="deal-price">{deal.price.formatted}</strong>{' '}
      <span className="visually-hidden">, regular price </span>
      <del className="regular-price">{price.formatted}</del> <span className="badge">−{deal.discountPercent}%</span>
    </p>
  );
}

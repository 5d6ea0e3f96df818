interface Variant {
  name: string;
  url: string;
  width?: number;
  height?: number;
}
interface ImageLike {
  alt?: string | null;
  variants: Variant[];
}

/** The resized renditions that keep the original's shape (`thumb` is a square crop, listed only as a last resort). */
const WIDTHS: Record<string, number> = { small: 300, medium: 600, large: 1200 };

/**
 * An image as a responsive `<img srcset sizes>`: the browser picks the smallest rendition that fills the slot at
 * the screen's density. Without an image, a neutral placeholder keeps the layout steady.
 */
export function ProductImage({
  image,
  alt,
  sizes,
  eager = false,
  className,
}: {
  image: ImageLike | undefined;
  alt: string;
  sizes: string;
  eager?: boolean;
  className?: string;
}) {
  const scaled = (image?.variants ?? []).filter((v) => WIDTHS[v.name]);
  if (!image || !image.variants.length) {
    return <div className={`image-placeholder ${className ?? ''}`} role="img" aria-label={`${alt} (no picture yet)`} />;
  }
  const fallback = scaled.find((v) => v.name === 'medium') ?? scaled[0] ?? image.variants[0];
  return (
    <img
      className={className}
      src={fallback.url}
      srcSet={scaled.length ? scaled.map((v) => `${v.url} ${v.width ?? WIDTHS[v.name]}w`).join(', ') : undefined}
      sizes={scaled.length ? sizes : undefined}
      width={fallback.width}
      height={fallback.height}
      alt={image.alt || alt}
      loading={eager ? 'eager' : 'lazy'}
      decoding="async"
    />
  );
}

/** A small square thumbnail (cart and order lines). */
export function Thumbnail({ image, alt }: { image: ImageLike | undefined; alt: string }) {
  const thumb = image?.variants.find((v) => v.name === 'thumb') ?? image?.variants[0];
  if (!thumb) return <div className="thumb image-placeholder" aria-hidden="true" />;
  return <img className="thumb" src={thumb.url} alt={alt} width={64} height={64} loading="lazy" />;
}

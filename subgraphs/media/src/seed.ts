import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { Config, Logger } from '@shop/kernel';
import { openMedia } from './index';
import type { MediaService } from './service/media.service';
import type { ImageRecord } from './store/types';

export interface SeedProduct {
  id: string;
  name: string;
}

const escapeXml = (s: string) =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/** Splits a name into at most three lines of about 18 characters for the placeholder's text. */
function lines(name: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of name.split(/\s+/).filter(Boolean)) {
    if (line && (line + ' ' + word).length > 18) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.length > 3 ? [...out.slice(0, 2), `${out[2]}…`] : out;
}

/** A distinct 800×800 PNG per product: a background colour derived from its id and its name written on it. */
export async function placeholderPng(product: SeedProduct): Promise<Buffer> {
  const h = createHash('sha256').update(product.id).digest();
  const hue = Math.round((h[0] / 255) * 360);
  const background = `hsl(${hue}, 55%, 45%)`;
  const text = lines(product.name);
  const size = 56;
  const top = 400 - ((text.length - 1) * size * 1.2) / 2;
  const svg = `<svg width="800" height="800" xmlns="http://www.w3.org/2000/svg">
    <rect width="800" height="800" fill="${background}"/>
    <rect x="40" y="40" width="720" height="720" rx="36" fill="none" stroke="rgba(255,255,255,0.5)" stroke-width="6"/>
    ${text.map((l, i) => `<text x="400" y="${top + i * size * 1.2}" font-family="DejaVu Sans, sans-serif" font-size="${size}" font-weight="bold" fill="#ffffff" text-anchor="middle" dominant-baseline="middle">${escapeXml(l)}</text>`).join('\n    ')}
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/**
 * Gives every product without images a generated placeholder image, processed exactly like an upload and
 * attached at position 0. Idempotent: products that already have an image are left alone. Products are trusted
 * to exist (the caller just created them), so the product subgraph need not be running.
 */
export async function seedProductImages(media: MediaService, products: SeedProduct[]): Promise<ImageRecord[]> {
  const existing = await media.imagesOfProducts(products.map((p) => p.id));
  const created: ImageRecord[] = [];
  for (const product of products) {
    if (existing.get(product.id)?.length) continue;
    const image = await media.importImage(await placeholderPng(product), `${product.id}.png`);
    created.push(await media.attachProductImage(product.id, image.id, product.name.slice(0, 300)));
  }
  return created;
}

/** `npm run seed` entry: opens the media stores from configuration, seeds, closes. Events stay in the outbox for the service's relay. */
export async function seedMedia(config: Config, logger: Logger, products: SeedProduct[]): Promise<number> {
  const { media, store } = await openMedia(config, logger);
  try {
    return (await seedProductImages(media, products)).length;
  } finally {
    await store.close();
  }
}

import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import { openMedia } from '../src';
import { placeholderPng, seedMedia, seedProductImages } from '../src/seed';
import { MediaStack, PRODUCT_IMAGES, startMediaStack, subgraphGql } from './helpers';

let ms: MediaStack;
beforeAll(async () => {
  ms = await startMediaStack();
});
afterAll(() => ms?.stop());

test('placeholder PNGs are real, distinct per product', async () => {
  const a = await placeholderPng({ id: randomUUID(), name: 'Walnut Desk Organizer & Lamp <Deluxe>' });
  const b = await placeholderPng({ id: randomUUID(), name: 'Walnut Desk Organizer & Lamp <Deluxe>' });
  expect(await sharp(a).metadata()).toMatchObject({ format: 'png', width: 800, height: 800 });
  expect(a.equals(b)).toBe(false);
});

test('seeding gives each product one processed, attached image, through the upload pipeline; idempotent', async () => {
  const products = Array.from({ length: 3 }, (_, i) => ({ id: randomUUID(), name: `Seeded product ${i + 1}` }));
  // A separate opening of the stores, as `npm run seed` does; the running service serves the result.
  const { media, store } = await openMedia(ms.stack.env.config, ms.stack.env.logger);
  try {
    const created = await seedProductImages(media, products);
    expect(created.map((i) => [i.productId, i.position, i.alt, i.status])).toEqual(
      products.map((p) => [p.id, 0, p.name, 'READY']),
    );
    expect(await seedProductImages(media, products)).toEqual([]);
  } finally {
    await store.close();
  }
  expect(await seedMedia(ms.stack.env.config, ms.stack.env.logger, products)).toBe(0);

  const res = await subgraphGql(ms, PRODUCT_IMAGES, {
    representations: products.map((p) => ({ __typename: 'Product', id: p.id })),
  });
  expect(res.errors).toBeUndefined();
  const images = res.data!._entities.map(
    (p: { images: { url: string; width: number; variants: { name: string; width: number }[] }[] }) => p.images,
  );
  expect(images.map((list: unknown[]) => list.length)).toEqual([1, 1, 1]);
  const first = images[0][0];
  expect(first.width).toBe(800);
  expect(first.variants.map((v: { name: string; width: number }) => `${v.name}:${v.width}`)).toEqual([
    'thumb:150',
    'small:300',
    'medium:600',
    'large:800',
  ]);
  const file = await fetch(ms.viaGateway(first.url));
  expect(file.status).toBe(200);
  expect(file.headers.get('content-type')).toBe('image/png');
});

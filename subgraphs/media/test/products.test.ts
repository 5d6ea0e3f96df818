import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Bus, EventEnvelope } from '@shop/kernel';
import {
  ATTACH,
  bytes,
  codes,
  countFiles,
  createUpload,
  DELETE,
  fakeProductService,
  IMAGE,
  makeImage,
  MediaStack,
  PRODUCT_IMAGES,
  readyImage,
  startMediaStack,
  subgraphGql,
} from './helpers';

const statements: string[] = [];
let ms: MediaStack;
let products: Awaited<ReturnType<typeof fakeProductService>>;
let listener: Bus;
const events: EventEnvelope[] = [];
const P1 = randomUUID();
const P2 = randomUUID();

beforeAll(async () => {
  ms = await startMediaStack({ onQuery: (sql) => statements.push(sql) });
  products = await fakeProductService(ms, [P1, P2]);
  listener = await Bus.connect(ms.stack.env.config);
  await listener.consume({ durable: 'media-test', subjects: ['media.>'], handler: async (e) => void events.push(e) });
});
afterAll(async () => {
  await listener?.close();
  await products?.close();
  await ms?.stop();
});

const entities = (ids: string[]) =>
  subgraphGql(ms, PRODUCT_IMAGES, { representations: ids.map((id) => ({ __typename: 'Product', id })) });

async function eventually<T>(fn: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('attachProductImage', () => {
  test('appends at the next position; Product.images returns them in order with alt', async () => {
    const a = await readyImage(ms, 'png', 800, 600);
    const b = await readyImage(ms, 'jpeg', 300, 300);
    const r1 = await ms.gql(ATTACH, { productId: P1, imageId: a, alt: 'Front view' }, ms.admin);
    expect(r1.errors).toBeUndefined();
    expect(r1.data!.attachProductImage).toMatchObject({
      id: a,
      alt: 'Front view',
      width: 800,
      height: 600,
      url: `http://shop.test/media/${a}/original`,
    });
    expect((await ms.gql(ATTACH, { productId: P1, imageId: b }, ms.admin)).errors).toBeUndefined();

    const res = await entities([P1, P2]);
    expect(res.errors).toBeUndefined();
    const [p1, p2] = res.data!._entities;
    expect(p1.id).toBe(P1);
    expect(p1.images.map((i: { id: string }) => i.id)).toEqual([a, b]);
    expect(p1.images[0]).toMatchObject({ alt: 'Front view', width: 800, height: 600 });
    expect(p1.images[0].variants.map((v: { name: string }) => v.name)).toEqual(['thumb', 'small', 'medium', 'large']);
    expect(p1.images[1].alt).toBeNull();
    expect(p2).toEqual({ id: P2, images: [] });

    // Re-attaching to the same product changes the alt text and keeps the position.
    expect(
      (await ms.gql(ATTACH, { productId: P1, imageId: a, alt: 'New alt' }, ms.admin)).data!.attachProductImage.alt,
    ).toBe('New alt');
    expect(
      (await entities([P1])).data!._entities[0].images.map((i: { id: string; alt: string }) => [i.id, i.alt]),
    ).toEqual([
      [a, 'New alt'],
      [b, null],
    ]);

    const attached = await eventually(() => {
      const found = events.filter(
        (e) => e.type === 'media.image_attached' && (e.data as { imageId: string }).imageId === b,
      );
      return found.length ? found : undefined;
    });
    expect(attached[0]).toMatchObject({
      v: 1,
      type: 'media.image_attached',
      data: { imageId: b, productId: P1, position: 1, alt: null },
    });
    expect(events.some((e) => e.type === 'media.image_ready' && (e.data as { imageId: string }).imageId === a)).toBe(
      true,
    );
  });

  test('an unknown product → NOT_FOUND (asked of the product service)', async () => {
    const img = await readyImage(ms);
    expect(codes(await ms.gql(ATTACH, { productId: randomUUID(), imageId: img }, ms.admin))).toEqual(['NOT_FOUND']);
    expect(codes(await ms.gql(ATTACH, { productId: 'not-a-uuid', imageId: img }, ms.admin))).toEqual(['NOT_FOUND']);
  });

  test('an image that is not READY → BAD_USER_INPUT on imageId; an unknown image → NOT_FOUND', async () => {
    const pending = await createUpload(ms);
    const res = await ms.gql(ATTACH, { productId: P1, imageId: pending.imageId }, ms.admin);
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0].extensions!.field).toBe('imageId');
    expect(codes(await ms.gql(ATTACH, { productId: P1, imageId: randomUUID() }, ms.admin))).toEqual(['NOT_FOUND']);
  });

  test('alt over 300 characters → BAD_USER_INPUT on alt; an image of another product → BAD_USER_INPUT', async () => {
    const img = await readyImage(ms);
    const long = await ms.gql(ATTACH, { productId: P2, imageId: img, alt: 'x'.repeat(301) }, ms.admin);
    expect(codes(long)).toEqual(['BAD_USER_INPUT']);
    expect(long.errors![0].extensions!.field).toBe('alt');
    expect(
      (await ms.gql(ATTACH, { productId: P2, imageId: img, alt: 'x'.repeat(300) }, ms.admin)).errors,
    ).toBeUndefined();
    const other = await ms.gql(ATTACH, { productId: P1, imageId: img }, ms.admin);
    expect(codes(other)).toEqual(['BAD_USER_INPUT']);
    expect(other.errors![0].extensions!.field).toBe('imageId');
  });

  test('anonymous → UNAUTHENTICATED, USER → FORBIDDEN (attach and delete)', async () => {
    const img = await readyImage(ms);
    expect(codes(await ms.gql(ATTACH, { productId: P1, imageId: img }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await ms.gql(ATTACH, { productId: P1, imageId: img }, ms.user))).toEqual(['FORBIDDEN']);
    expect(codes(await ms.gql(DELETE, { id: img }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await ms.gql(DELETE, { id: img }, ms.user))).toEqual(['FORBIDDEN']);
    expect((await ms.gql(IMAGE, { id: img })).data!.image).not.toBeNull();
  });
});

describe('deleteImage', () => {
  test('removes the metadata, the product link and the files; then NOT_FOUND', async () => {
    const product = randomUUID();
    products.known.add(product);
    const img = await readyImage(ms, 'png', 500, 500);
    await ms.gql(ATTACH, { productId: product, imageId: img }, ms.admin);
    const url = `${ms.gatewayOrigin}/media/${img}/medium`;
    expect((await fetch(url)).status).toBe(200);
    expect(countFiles(path.join(ms.mediaDir, 'images', img))).toBe(5);

    const res = await ms.gql(DELETE, { id: img }, ms.admin);
    expect(res.errors).toBeUndefined();
    expect(res.data!.deleteImage).toBe(true);
    expect(countFiles(path.join(ms.mediaDir, 'images', img))).toBe(0);
    expect((await fetch(url)).status).toBe(404);
    expect((await ms.gql(IMAGE, { id: img })).data!.image).toBeNull();
    expect((await entities([product])).data!._entities[0].images).toEqual([]);
    expect(codes(await ms.gql(DELETE, { id: img }, ms.admin))).toEqual(['NOT_FOUND']);
    expect(codes(await ms.gql(DELETE, { id: 'nope' }, ms.admin))).toEqual(['NOT_FOUND']);
    await eventually(() =>
      events.find((e) => e.type === 'media.image_deleted' && (e.data as { imageId: string }).imageId === img),
    );
  });

  test('deleting a PENDING image spends its upload URL', async () => {
    const t = await createUpload(ms);
    expect((await ms.gql(DELETE, { id: t.imageId }, ms.admin)).data!.deleteImage).toBe(true);
    const put = await fetch(ms.viaGateway(t.uploadUrl), { method: 'PUT', body: bytes(await makeImage('png', 20, 20)) });
    expect(put.status).toBe(404);
  });
});

describe('batching', () => {
  test('Product.images of 50 products in one _entities request = one SQL statement', async () => {
    const ids = Array.from({ length: 50 }, () => randomUUID());
    ids.forEach((id) => products.known.add(id));
    const withImages = ids.slice(0, 5);
    for (const id of withImages) {
      await ms.gql(ATTACH, { productId: id, imageId: await readyImage(ms, 'png', 60, 40) }, ms.admin);
    }
    // The outbox relay polls through the same ORM: paused while counting, so every statement counted is ours.
    await ms.svc.relay.stop();
    statements.length = 0;
    const res = await entities(ids);
    const ours = [...statements];
    ms.svc.relay.start();
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities).toHaveLength(50);
    expect(
      res.data!._entities.filter((p: { images: unknown[] }) => p.images.length === 1).map((p: { id: string }) => p.id),
    ).toEqual(withImages);
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/from "images"/);
  });

  test('Image references are batched too', async () => {
    const a = await readyImage(ms);
    const b = await readyImage(ms);
    await ms.svc.relay.stop();
    statements.length = 0;
    const res = await subgraphGql(
      ms,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Image { id width } } }`,
      {
        r: [a, b, randomUUID()].map((id) => ({ __typename: 'Image', id })),
      },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data!._entities.map((i: { id: string } | null) => i?.id ?? null)).toEqual([a, b, null]);
    const ours = [...statements];
    ms.svc.relay.start();
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/from "images"/);
  });
});

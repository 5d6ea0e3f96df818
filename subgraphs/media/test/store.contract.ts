import { randomUUID } from 'node:crypto';
import { Bus, EventEnvelope } from '@shop/kernel';
import { TestEnv } from '@shop/kernel/testing';
import type { ImageStore, ReadyImage } from '../src/store';

export interface StoreUnderTest {
  store: ImageStore;
  env: TestEnv;
  cleanup(): Promise<void>;
}

const MINUTE = 60_000;
const ready = (bytes = 1000): ReadyImage => ({
  contentType: 'image/png',
  width: 40,
  height: 30,
  bytes,
  renditions: [
    { name: 'original', contentType: 'image/png', width: 40, height: 30, bytes, hash: 'a'.repeat(64) },
    { name: 'thumb', contentType: 'image/webp', width: 30, height: 30, bytes: 100, hash: 'b'.repeat(64) },
  ],
});
const announceReady = (img: { id: string }) => ({ type: 'media.image_ready', data: { imageId: img.id } });

/**
 * The ImageStore contract, run against every adapter (PostgreSQL, MongoDB): the service relies on exactly
 * these behaviours, atomic transitions included.
 */
export function imageStoreContract(open: () => Promise<StoreUnderTest>): void {
  let s: StoreUnderTest;
  let store: ImageStore;
  beforeAll(async () => {
    s = await open();
    store = s.store;
  });
  afterAll(() => s?.cleanup());

  async function pending(opts: { expiresInMs?: number } = {}) {
    const now = Date.now();
    return store.create({
      id: randomUUID(),
      filename: 'a.png',
      contentType: 'image/png',
      uploadExpiresAt: new Date(now + (opts.expiresInMs ?? 15 * MINUTE)),
      createdAt: new Date(now),
    });
  }
  async function readyImage() {
    const img = await pending();
    await store.claimUpload(img.id, new Date());
    return (await store.markReady(img.id, ready()))!;
  }

  test('create → findById / findByIds; unknown and malformed ids → nothing', async () => {
    const img = await pending();
    expect(img).toMatchObject({
      status: 'PENDING',
      filename: 'a.png',
      contentType: 'image/png',
      width: null,
      renditions: [],
      productId: null,
      position: null,
      alt: null,
    });
    const found = await store.findById(img.id);
    expect(found).toEqual(img);
    expect(found!.uploadExpiresAt).toBeInstanceOf(Date);
    expect(await store.findById(randomUUID())).toBeNull();
    expect(await store.findById('not-a-uuid')).toBeNull();
    const other = await pending();
    expect((await store.findByIds([img.id, other.id, randomUUID(), 'x'])).map((i) => i.id).sort()).toEqual(
      [img.id, other.id].sort(),
    );
  });

  test('claimUpload: PENDING → PROCESSING once; never after the window closed', async () => {
    const img = await pending();
    expect((await store.claimUpload(img.id, new Date()))!.status).toBe('PROCESSING');
    expect(await store.claimUpload(img.id, new Date())).toBeNull();
    const late = await pending({ expiresInMs: MINUTE });
    expect(await store.claimUpload(late.id, new Date(Date.now() + 2 * MINUTE))).toBeNull();
    expect((await store.findById(late.id))!.status).toBe('PENDING');
    expect(await store.claimUpload(randomUUID(), new Date())).toBeNull();
  });

  test('claimUpload is atomic: of 8 concurrent claims exactly one wins', async () => {
    const img = await pending();
    const results = await Promise.all(Array.from({ length: 8 }, () => store.claimUpload(img.id, new Date())));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('markReady: PROCESSING → READY with its event; not from any other state', async () => {
    const img = await pending();
    expect(await store.markReady(img.id, ready(), announceReady)).toBeNull(); // still PENDING
    await store.claimUpload(img.id, new Date());
    const done = await store.markReady(img.id, ready(1234), announceReady);
    expect(done).toMatchObject({ status: 'READY', contentType: 'image/png', width: 40, height: 30, bytes: 1234 });
    expect(done!.renditions.map((r) => r.name)).toEqual(['original', 'thumb']);
    expect(await store.findById(img.id)).toEqual(done);
    expect(await store.markReady(img.id, ready(), announceReady)).toBeNull();
    const events = await store.pendingEvents(1000);
    expect(events.filter((e) => (e.data as { imageId: string }).imageId === img.id)).toEqual([
      expect.objectContaining({
        v: 1,
        type: 'media.image_ready',
        data: { imageId: img.id },
        id: expect.any(String),
        occurredAt: expect.any(String),
      }),
    ]);
  });

  test('markFailed: PROCESSING → FAILED with the reason; the URL stays spent', async () => {
    const img = await pending();
    await store.claimUpload(img.id, new Date());
    await store.markFailed(img.id, 'not an image');
    expect(await store.findById(img.id)).toMatchObject({ status: 'FAILED', failure: 'not an image' });
    expect(await store.claimUpload(img.id, new Date())).toBeNull();
  });

  test('attach: appends per product, updates alt in place, refuses non-READY and other products', async () => {
    const product = randomUUID();
    const a = await readyImage();
    const b = await readyImage();
    const r1 = await store.attach(a.id, product, 'A', (img) => ({
      type: 'media.image_attached',
      data: { imageId: img.id, position: img.position },
    }));
    expect(r1).toMatchObject({ ok: true, image: { productId: product, position: 0, alt: 'A' } });
    expect(await store.attach(b.id, product, null)).toMatchObject({ ok: true, image: { position: 1, alt: null } });
    expect(await store.attach(a.id, product, 'A2')).toMatchObject({ ok: true, image: { position: 0, alt: 'A2' } });
    expect(await store.attach(a.id, randomUUID(), null)).toEqual({ ok: false, reason: 'other_product' });
    expect(await store.attach((await pending()).id, product, null)).toEqual({ ok: false, reason: 'not_ready' });
    expect(await store.attach(randomUUID(), product, null)).toEqual({ ok: false, reason: 'not_found' });
    const events = await store.pendingEvents(1000);
    expect(
      events.find((e) => e.type === 'media.image_attached' && (e.data as { imageId: string }).imageId === a.id)!.data,
    ).toEqual({ imageId: a.id, position: 0 });
  });

  test('attach is safe under concurrency: 6 images at once get positions 0..5', async () => {
    const product = randomUUID();
    const images = await Promise.all(Array.from({ length: 6 }, () => readyImage()));
    const results = await Promise.all(images.map((img) => store.attach(img.id, product, null)));
    expect(results.every((r) => r.ok)).toBe(true);
    const positions = results.map((r) => (r.ok ? r.image.position : -1)).sort((x, y) => x! - y!);
    expect(positions).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test('findReadyByProducts: READY images of many products, by product then position', async () => {
    const [p1, p2, p3] = [randomUUID(), randomUUID(), randomUUID()];
    const a = await readyImage();
    const b = await readyImage();
    const c = await readyImage();
    await store.attach(a.id, p2, null);
    await store.attach(b.id, p1, null);
    await store.attach(c.id, p2, null);
    const rows = await store.findReadyByProducts([p1, p2, p3, 'junk']);
    const expected = [
      [p1, b.id, 0],
      [p2, a.id, 0],
      [p2, c.id, 1],
    ].sort((x, y) => String(x[0]).localeCompare(String(y[0])) || Number(x[2]) - Number(y[2]));
    expect(rows.map((r) => [r.productId, r.id, r.position])).toEqual(expected);
    expect(await store.findReadyByProducts([])).toEqual([]);
  });

  test('delete: returns the record as it was, with its event; unknown → null', async () => {
    const product = randomUUID();
    const img = await readyImage();
    await store.attach(img.id, product, 'x');
    const gone = await store.delete(img.id, (i) => ({
      type: 'media.image_deleted',
      data: { imageId: i.id, productId: i.productId },
    }));
    expect(gone).toMatchObject({ id: img.id, productId: product, status: 'READY' });
    expect(await store.findById(img.id)).toBeNull();
    expect(await store.findReadyByProducts([product])).toEqual([]);
    expect(await store.delete(img.id)).toBeNull();
    const events = await store.pendingEvents(1000);
    expect(
      events.find((e) => e.type === 'media.image_deleted' && (e.data as { imageId: string }).imageId === img.id)!.data,
    ).toEqual({ imageId: img.id, productId: product });
  });

  test('purgeAbandoned removes only unfinished uploads whose window closed before the cut-off', async () => {
    const old = await pending({ expiresInMs: -2 * MINUTE });
    const fresh = await pending();
    const done = await readyImage();
    const purged = await store.purgeAbandoned(new Date(Date.now() - MINUTE));
    expect(purged.map((p) => p.id)).toContain(old.id);
    expect(purged.map((p) => p.id)).not.toContain(fresh.id);
    expect(await store.findById(old.id)).toBeNull();
    expect(await store.findById(fresh.id)).not.toBeNull();
    expect(await store.findById(done.id)).not.toBeNull();
  });

  test('the relay publishes pending events to JetStream in order, once', async () => {
    const bus = await Bus.connect(s.env.config);
    const got: EventEnvelope[] = [];
    try {
      await bus.consume({
        durable: `contract-${store.kind}`,
        subjects: ['media.>'],
        handler: async (e) => void got.push(e),
      });
      const pendingBefore = await store.pendingEvents(1000);
      expect(pendingBefore.length).toBeGreaterThan(0);
      const relay = store.createRelay(bus);
      expect(await relay.flush()).toBe(pendingBefore.length);
      expect(await store.pendingEvents()).toEqual([]);
      expect(await relay.flush()).toBe(0);
      const until = Date.now() + 5000;
      while (got.length < pendingBefore.length && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(got.map((e) => e.id)).toEqual(pendingBefore.map((e) => e.id));
      await relay.stop();
    } finally {
      await bus.close();
    }
  });

  test('ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
}

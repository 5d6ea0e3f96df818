import { ALL, ok, processModule, Shop, startShop, Tally } from './helpers';

/**
 * A subgraph process killed (SIGKILL) while queries run: queries that do not touch it are unaffected; queries that do
 * answer partial data with an error naming the service; once it is started again the same gateway serves it again.
 * The media subgraph runs as a child process (built dist/); the others in this process.
 */
const media = processModule(ALL.media);
let shop: Shop;
beforeAll(async () => {
  shop = await startShop([ALL.user, ALL.product, media]);
});
afterAll(() => shop?.stop());

const UNTOUCHED = `query($id: ID!) { product(id: $id) { id name stock } categories { slug } }`;
const TOUCHING = `query($id: ID!, $img: ID!) { categories { slug } image(id: $img) { id } product(id: $id) { id name images { id } } }`;

test('kill media mid-traffic: others unaffected, partial data naming media, served again after restart', async () => {
  const { stack } = shop;
  const product = await shop.product(5);
  const img = ok(
    await stack.gql(
      'mutation { createImageUpload(contentType: "image/png", filename: "a.png") { imageId } }',
      {},
      shop.admin,
    ),
  ).createImageUpload.imageId;
  const untouched = new Tally('media subgraph killed: queries not touching it');
  const touching = new Tally('media subgraph killed: queries touching it');
  expect(ok(await stack.gql(TOUCHING, { id: product, img })).product.images).toEqual([]);

  let phase = 'up' as 'up' | 'down' | 'back';
  const downAnswers: any[] = [];
  let running = true;
  const traffic = (async () => {
    while (running) {
      const [a, b] = await Promise.all([
        stack.gql(UNTOUCHED, { id: product }),
        stack.gql(TOUCHING, { id: product, img }),
      ]);
      untouched.count(a);
      if (phase === 'down') downAnswers.push(b);
      if (phase !== 'up') touching.count(b);
      expect(a.errors).toBeUndefined();
      expect(a.data?.product.id).toBe(product);
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  await media.kill();
  phase = 'down';
  await new Promise((r) => setTimeout(r, 1000));
  await media.restart();
  phase = 'back';
  await new Promise((r) => setTimeout(r, 500));
  running = false;
  await traffic;

  // While it was down: data from the other subgraphs, the media parts null, an error that names the service.
  // (A request already past the media fetch when the process died may still be whole.)
  const partial = downAnswers.filter((r) => r.errors);
  expect(partial.length).toBeGreaterThan(0);
  for (const r of partial) {
    expect(r.data?.categories.length).toBeGreaterThan(0);
    // (product, with its media part, is null — or whole when that fetch already reached the restarted process.)
    expect(r.errors.map((e: any) => [e.extensions?.code, e.extensions?.service, e.message])).toContainEqual([
      'SERVICE_UNAVAILABLE',
      'media',
      'The media service is unavailable; try again shortly',
    ]);
    expect(JSON.stringify(r.errors)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    expect(r.errors.every((e: any) => typeof e.extensions?.code === 'string')).toBe(true);
  }
  // Served again by the same gateway.
  const after = ok(await stack.gql(TOUCHING, { id: product, img }));
  expect(after.product).toEqual({ id: product, name: expect.any(String), images: [] });
  untouched.print(0, `${untouched.errors} errors in queries not touching media`);
  touching.print(0, `${partial.length} partial answers while down, each naming media; served again after restart`);
  expect(untouched.errors).toBe(0);
}, 120_000);

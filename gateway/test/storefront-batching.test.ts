import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../src';
import { createProductSubgraph } from '../../subgraphs/product/src';
import { createMediaSubgraph, StartedMedia } from '../../subgraphs/media/src';
import { seedProductImages } from '../../subgraphs/media/src/seed';
import { adminToken, createProduct, ensureCategory, ok, svc } from '../../subgraphs/product/test/helpers';

/**
 * The storefront's home page as one query through the gateway — a page of 50 products with their deals and
 * images — costs a constant number of SQL statements in each subgraph, not one per product.
 */
const sql = { product: [] as string[], media: [] as string[], counting: false };
const counter = (into: string[]) => (line: string) => {
  if (sql.counting && line.includes('[query]')) into.push(line);
};
const media = createMediaSubgraph({ onQuery: counter(sql.media) });

let stack: Stack;
const mediaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'media-batch-'));
beforeAll(async () => {
  stack = await startStack({
    subgraphs: [createProductSubgraph({ onQuery: counter(sql.product) }), media],
    gateway: startGateway,
    env: { MEDIA_DIR: mediaDir },
  });
  const admin = adminToken(stack);
  for (const c of ['audio', 'books']) await ensureCategory(stack, admin, c);
  const products: { id: string; name: string }[] = [];
  for (let i = 0; i < 50; i++)
    products.push(
      await createProduct(stack, admin, {
        category: i % 2 ? 'audio' : 'books',
        price: 999 + i,
        stock: 5,
        name: `Home item ${i}`,
      }),
    );
  await seedProductImages((stack.services.media as StartedMedia).media, products);
  // The outbox relays' polling would add statements no request caused.
  await svc(stack).relay.stop();
  await (stack.services.media as StartedMedia).relay.stop();
  ok(await stack.gql(`{ deals { discountPercent } }`));
});
afterAll(async () => {
  await stack?.stop();
  fs.rmSync(mediaDir, { recursive: true, force: true });
});

const HOME = `{
  deals { discountPercent price { formatted } product { id name images { url } } }
  products(first: 50) { edges { node { id name price { formatted } deal { price { formatted } } images { url variants { name url } } } } }
}`;

test('50 products with deals and images: constant statements per subgraph, every image resolved', async () => {
  sql.product.length = 0;
  sql.media.length = 0;
  sql.counting = true;
  const res = await stack.gql(HOME);
  sql.counting = false;
  const data = ok(res);
  expect(data.products.edges).toHaveLength(50);
  expect(
    data.products.edges.every((e: any) => e.node.images.length === 1 && e.node.images[0].variants.length === 4),
  ).toBe(true);
  expect(data.deals).toHaveLength(10);
  expect(data.products.edges.filter((e: any) => e.node.deal).length).toBe(10);
  // product: the page, the deal products (not the whole list again) — independent of the 50.
  expect(sql.product.length).toBeLessThanOrEqual(3);
  // media: the gateway sends one _entities batch for the page's products and one for the deals' products.
  expect(sql.media.length).toBeLessThanOrEqual(2);
  console.log(`home page: ${sql.product.length} product statements, ${sql.media.length} media statements`);
});

/**
 * Catalog benchmark (not part of npm test): 100,000 seeded products in an isolated environment on the local
 * PostgreSQL / Redis / NATS, the product subgraph and the gateway in this process. Five storefront queries (plus two
 * heavier extras that count the whole catalog) are timed sequentially, N times each after a warm-up, against the
 * subgraph directly (with a gateway token) and through the gateway. Prints a markdown table of p50 / p95 in milliseconds; target p95 < 30 ms at the subgraph.
 *
 *   npx tsc -b tsconfig.build.json && node dist/bench/catalog.js [--products 100000] [--runs 200]
 */
import { performance } from 'node:perf_hooks';
import { INTERNAL_TOKEN_HEADER, signInternalToken } from '@shop/kernel';
import { graphql, Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../gateway/src';
import productSubgraph, { StartedProduct } from '../subgraphs/product/src';
import { seedCatalog } from '../subgraphs/product/src/seed';
import { numberArg } from './lib/args';
import { percentile } from './lib/stats';

const PRODUCTS = numberArg('products', 100_000);
const RUNS = numberArg('runs', 200);
const WARMUP = 20;
const TARGET_P95_MS = 30;

const NODE = 'id name price { amount formatted } stock inStock category { slug name }';
const PAGE = `edges { cursor node { ${NODE} } } pageInfo { hasNextPage endCursor }`;
const FACETS = `query($f: ProductFilter) { products(first: 20, filter: $f) { ${PAGE} totalCount facets { categories { slug name count } } } }`;

interface Case {
  name: string;
  query: string;
  variables: Record<string, unknown>;
}

async function main(): Promise<void> {
  const stack: Stack = await startStack({ subgraphs: [productSubgraph], gateway: startGateway });
  try {
    const svc = stack.services.product as StartedProduct;
    let t = performance.now();
    const seeded = await seedCatalog(svc.orm, { products: PRODUCTS });
    // Steady state of a live catalog: statistics collected and the visibility map set (index-only scans).
    await svc.orm.em.fork().getConnection().execute('VACUUM ANALYZE products');
    console.log(`seeded ${seeded.products} products in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    let token = { value: '', at: 0 };
    const internalToken = () => {
      // Internal tokens live 60 s; renew well before.
      if (Date.now() - token.at > 20_000)
        token = { value: signInternalToken(stack.env.keys, {}, 'product'), at: Date.now() };
      return token.value;
    };
    const targets = {
      subgraph: (q: string, v: Record<string, unknown>) =>
        graphql(svc.url, q, v, { headers: { [INTERNAL_TOKEN_HEADER]: internalToken() } }),
      gateway: (q: string, v: Record<string, unknown>) => stack.gql(q, v),
    };

    // The deep page: walk 50 pages of 20 (newest first) and time the 51st.
    let after: string | null = null;
    for (let i = 0; i < 50; i++) {
      const res = await targets.subgraph(
        `query($after: String) { products(first: 20, after: $after) { pageInfo { endCursor } } }`,
        { after },
      );
      after = res.data!.products.pageInfo.endCursor;
    }

    const cases: Case[] = [
      { name: 'first page (newest)', query: `{ products(first: 20) { ${PAGE} } }`, variables: {} },
      {
        name: 'filtered page (category + price range + inStock) with totalCount',
        query: `query($f: ProductFilter) { products(first: 20, filter: $f, sort: PRICE_ASC) { ${PAGE} totalCount } }`,
        variables: { f: { category: 'audio', minPrice: 5000, maxPrice: 20000, inStock: true } },
      },
      {
        name: 'text search "wireless head" (relevance) with totalCount',
        query: `query($f: ProductFilter) { products(first: 20, filter: $f) { ${PAGE} totalCount } }`,
        variables: { f: { search: 'wireless head' } },
      },
      {
        name: 'deep page (51st page by cursor)',
        query: `query($after: String) { products(first: 20, after: $after) { ${PAGE} } }`,
        variables: { after },
      },
      {
        name: 'facets + totalCount for a search ("wireless", in stock)',
        query: FACETS,
        variables: { f: { search: 'wireless', inStock: true } },
      },
      // Not one of the five targets: the worst case, counting ~90,000 rows per request.
      {
        name: 'extra: facets + totalCount, whole catalog in stock',
        query: FACETS,
        variables: { f: { inStock: true } },
      },
      {
        name: 'extra: categories with productCount (navigation)',
        query: `{ categories { slug name productCount } }`,
        variables: {},
      },
    ];

    const rows: string[] = [];
    for (const c of cases) {
      const cells: string[] = [];
      let subgraphP95 = 0;
      for (const [target, send] of Object.entries(targets)) {
        for (let i = 0; i < WARMUP; i++) await send(c.query, c.variables);
        const times: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          t = performance.now();
          const res = await send(c.query, c.variables);
          times.push(performance.now() - t);
          if (res.errors) throw new Error(`${c.name} @ ${target}: ${JSON.stringify(res.errors)}`);
        }
        times.sort((a, b) => a - b);
        const p95 = percentile(times, 95);
        if (target === 'subgraph') subgraphP95 = p95;
        cells.push(percentile(times, 50).toFixed(1), p95.toFixed(1));
      }
      rows.push(`| ${c.name} | ${cells.join(' | ')} | ${subgraphP95 < TARGET_P95_MS ? 'yes' : 'no'} |`);
    }
    console.log(
      `\n${PRODUCTS.toLocaleString('en-US')} products, ${RUNS} sequential runs per query and target after ${WARMUP} warm-up runs (ms)\n`,
    );
    console.log('| query | subgraph p50 | subgraph p95 | gateway p50 | gateway p95 | subgraph p95 < 30 ms |');
    console.log('|---|---:|---:|---:|---:|:---:|');
    for (const r of rows) console.log(r);
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

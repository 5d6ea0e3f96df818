import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';

export interface SeedOptions {
  /** Number of products to create. */
  products: number;
  /** Source of randomness in [0, 1); default a fixed-seed generator, so every seed produces the same catalog. */
  random?: () => number;
  /** Rows per INSERT statement. */
  batchSize?: number;
}

export interface SeedResult {
  skipped: boolean;
  categories: number;
  products: number;
}

interface CategorySeed {
  slug: string;
  name: string;
  code: string;
  nouns: string[];
  adjectives: string[];
  /** Price range in whole currency units. */
  price: [number, number];
  uses: string[];
}

export const SEED_CATEGORIES: CategorySeed[] = [
  {
    slug: 'audio',
    name: 'Audio',
    code: 'AUD',
    price: [15, 600],
    nouns: ['Headphones', 'Earbuds', 'Speaker', 'Soundbar', 'Turntable', 'Amplifier', 'Microphone', 'Subwoofer'],
    adjectives: ['Wireless', 'Noise-Cancelling', 'Portable', 'Studio', 'Bluetooth', 'Hi-Fi', 'Waterproof', 'Compact'],
    uses: ['commuting', 'the studio', 'long flights', 'parties', 'late-night listening'],
  },
  {
    slug: 'computers',
    name: 'Computers',
    code: 'CMP',
    price: [10, 3000],
    nouns: ['Laptop', 'Monitor', 'Keyboard', 'Mouse', 'Webcam', 'Docking Station', 'SSD', 'Router'],
    adjectives: ['Ultra-Thin', 'Gaming', 'Ergonomic', 'Mechanical', '4K', 'Compact', 'Professional', 'Silent'],
    uses: ['remote work', 'gaming marathons', 'video calls', 'photo editing', 'programming'],
  },
  {
    slug: 'phones',
    name: 'Phones',
    code: 'PHN',
    price: [8, 1500],
    nouns: [
      'Smartphone',
      'Phone Case',
      'Charger',
      'Screen Protector',
      'Power Bank',
      'Cable',
      'Car Mount',
      'Smartwatch',
    ],
    adjectives: ['Fast', 'Rugged', 'Slim', 'Magnetic', 'USB-C', 'Wireless', 'Foldable', 'Clear'],
    uses: ['everyday carry', 'travel', 'the car', 'outdoor adventures', 'the office'],
  },
  {
    slug: 'home',
    name: 'Home',
    code: 'HOM',
    price: [12, 900],
    nouns: ['Coffee Maker', 'Blender', 'Desk Lamp', 'Vacuum', 'Kettle', 'Air Purifier', 'Toaster', 'Thermostat'],
    adjectives: ['Smart', 'Stainless', 'Cordless', 'Quiet', 'Compact', 'Programmable', 'Energy-Saving', 'Retro'],
    uses: ['small kitchens', 'busy mornings', 'family homes', 'the home office', 'weekend projects'],
  },
  {
    slug: 'outdoors',
    name: 'Outdoors',
    code: 'OUT',
    price: [9, 800],
    nouns: [
      'Tent',
      'Backpack',
      'Sleeping Bag',
      'Headlamp',
      'Water Bottle',
      'Hiking Boots',
      'Camping Stove',
      'Trekking Poles',
    ],
    adjectives: ['Lightweight', 'Waterproof', 'Insulated', 'Trail', 'Ultralight', 'Four-Season', 'Rugged', 'Packable'],
    uses: ['weekend hikes', 'alpine camping', 'long-distance trails', 'festivals', 'rainy days'],
  },
  {
    slug: 'books',
    name: 'Books',
    code: 'BOK',
    price: [5, 120],
    nouns: ['Cookbook', 'Novel', 'Field Guide', 'Atlas', 'Biography', 'Poetry Collection', 'Travel Guide', 'Workbook'],
    adjectives: [
      'Illustrated',
      'Classic',
      'Hardcover',
      'Paperback',
      'Annotated',
      "Collector's",
      'Pocket',
      'Bestselling',
    ],
    uses: ['curious readers', 'the kitchen', 'road trips', 'gift giving', 'quiet evenings'],
  },
];

const BRANDS = [
  'Sonora',
  'Aurel',
  'Northwind',
  'Kestrel',
  'Lumen',
  'Brightline',
  'Vireo',
  'Halcyon',
  'Orbit',
  'Tidewater',
  'Summit',
  'Ember',
];

/** Mulberry32: a small deterministic PRNG, so a seeded catalog is reproducible. */
export function seededRandom(seed = 42): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ProductRow {
  sku: string;
  name: string;
  description: string;
  category_slug: string;
  price_amount: number;
  on_hand: number;
  created_at: string;
}

function makeProduct(i: number, rnd: () => number, now: number): ProductRow {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const cat = SEED_CATEGORIES[i % SEED_CATEGORIES.length];
  const brand = pick(BRANDS);
  const adjective = pick(cat.adjectives);
  const noun = pick(cat.nouns);
  const model = `${String.fromCharCode(65 + Math.floor(rnd() * 26))}${100 + Math.floor(rnd() * 900)}`;
  const [lo, hi] = cat.price;
  // Whole units ending in .99 mostly, sometimes .00 — integer cents throughout.
  const units = lo + Math.floor(rnd() * (hi - lo));
  const price = units * 100 + (rnd() < 0.8 ? 99 : 0);
  // About one product in ten is sold out.
  const onHand = rnd() < 0.1 ? 0 : 1 + Math.floor(rnd() * 200);
  const createdAt = new Date(now - Math.floor(rnd() * 365 * 24 * 3600 * 1000));
  return {
    sku: `${cat.code}-${String(i + 1).padStart(7, '0')}`,
    name: `${brand} ${adjective} ${noun} ${model}`,
    description:
      `The ${brand} ${noun} ${model} is a ${adjective.toLowerCase()} ${noun.toLowerCase()} made for ${pick(cat.uses)}. ` +
      `Built to last, backed by a two-year warranty, and loved for ${pick(cat.uses)} as well.`,
    category_slug: cat.slug,
    price_amount: price,
    on_hand: onHand,
    created_at: createdAt.toISOString(),
  };
}

async function insertBatch(em: EntityManager, rows: ProductRow[]): Promise<void> {
  // One statement per batch: the rows travel as one JSON value and are expanded server-side; each product's
  // opening stock is recorded as its first movement like createProduct does (no events: a seed is not news).
  await em.execute(
    `WITH input AS (
       SELECT * FROM jsonb_to_recordset(?::jsonb)
         AS x(sku text, name text, description text, category_slug text, price_amount integer, on_hand integer, created_at timestamptz)
     ), inserted AS (
       INSERT INTO products (id, sku, name, description, category_slug, price_amount, currency, on_hand, created_at, updated_at)
       SELECT gen_random_uuid(), sku, name, description, category_slug, price_amount, 'USD', on_hand, created_at, created_at FROM input
       RETURNING id, on_hand, created_at
     )
     INSERT INTO stock_movements (id, product_id, delta, reason, resulting_on_hand, created_at)
     SELECT gen_random_uuid(), id, on_hand, 'Initial stock (seed)', on_hand, created_at FROM inserted`,
    [JSON.stringify(rows)],
  );
}

/**
 * Seeds categories and `products` realistic products (names, descriptions, prices, ~10 % sold out) in batched
 * multi-row inserts: 100,000 products take seconds. Does nothing when the catalog already has products, so it
 * is safe to run at every start; concurrent seeders are serialized by an advisory lock.
 */
export async function seedCatalog(orm: MikroORM, opts: SeedOptions): Promise<SeedResult> {
  const rnd = opts.random ?? seededRandom();
  const batchSize = opts.batchSize ?? 5000;
  return orm.em.fork().transactional(async (em) => {
    await em.execute(`SELECT pg_advisory_xact_lock(hashtext('product.seed'))`);
    const [{ n }] = await em.execute<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM products LIMIT 1) x`,
    );
    if (Number(n) > 0) return { skipped: true, categories: 0, products: 0 };
    for (const c of SEED_CATEGORIES) {
      await em.execute(`INSERT INTO categories (slug, name) VALUES (?, ?) ON CONFLICT (slug) DO NOTHING`, [
        c.slug,
        c.name,
      ]);
    }
    const now = Date.now();
    for (let start = 0; start < opts.products; start += batchSize) {
      const rows: ProductRow[] = [];
      for (let i = start; i < Math.min(opts.products, start + batchSize); i++) rows.push(makeProduct(i, rnd, now));
      await insertBatch(em, rows);
    }
    return { skipped: false, categories: SEED_CATEGORIES.length, products: opts.products };
  });
}

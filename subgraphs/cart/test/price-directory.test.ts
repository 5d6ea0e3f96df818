import { Stack, startStack } from '@shop/kernel/testing';
import { startGateway } from '../../../gateway/src';
import productSubgraph from '../../product/src';
import { svc as productSvc } from '../../product/test/helpers';
import { createCartSubgraph } from '../src';
import type { ProductInfo } from '../src/ports';
import { PriceDirectory } from '../src/service/price-directory';
import { countingPort, info } from './fake-products';
import { ADD, adminToken, cartSvc, CREATE_CART, ok, product } from './helpers';

/**
 * The cart's price directory: checkouts priced from what `product.get` answered before, forgotten at every sign of
 * change (./src/service/price-directory.ts).
 */
const priced = ({ available: _a, ...rest }: ProductInfo) => rest;
const directory = (maxAgeMs = 60_000, maxEntries = 100) => {
  const catalog = new Map([
    ['a', info('a', 100)],
    ['b', info('b', 250)],
    ['c', info('c', 990)],
  ]);
  const fake = countingPort(catalog);
  return { ...fake, catalog, prices: new PriceDirectory(fake.port, { maxAgeMs, maxEntries }) };
};

describe('PriceDirectory', () => {
  it('prices a checkout from earlier answers; one product it has not seen makes it ask for them all, once', async () => {
    const { prices, calls } = directory();
    await prices.get({ ids: ['a', 'b'] });
    expect(await prices.priced(['b', 'a'])).toEqual([priced(info('b', 250)), priced(info('a', 100))]);
    expect(calls).toEqual([['a', 'b']]);
    expect((await prices.priced(['a', 'c'])).map((p) => p.id)).toEqual(['a', 'c']);
    expect(calls).toEqual([
      ['a', 'b'],
      ['a', 'c'],
    ]);
    expect(await prices.priced(['c'])).toEqual([priced(info('c', 990))]);
    expect(calls).toHaveLength(2);
    expect([prices.hits, prices.misses]).toEqual([2, 1]);
  });

  it('forgets the products it is told of, or everything; the next checkout asks and sees the new price', async () => {
    const { prices, calls, catalog } = directory();
    await prices.get({ ids: ['a', 'b', 'c'] });
    catalog.set('a', info('a', 111));
    prices.drop(['a']);
    expect([prices.has('a'), prices.has('b')]).toEqual([false, true]);
    expect((await prices.priced(['a'])).map((p) => p.priceAmount)).toEqual([111]);
    prices.drop();
    expect(prices.size).toBe(0);
    await prices.priced(['b']);
    expect(calls).toEqual([['a', 'b', 'c'], ['a'], ['b']]);
  });

  it('does not remember an answer to a request sent before a drop (it may predate the change)', async () => {
    const { prices, calls, control } = directory();
    let open!: () => void;
    control.gate = new Promise((r) => (open = r));
    const inFlight = prices.get({ ids: ['a'] });
    prices.drop(['a']);
    open();
    await inFlight;
    expect(prices.has('a')).toBe(false);
    await prices.priced(['a']);
    expect(calls).toHaveLength(2);
    expect(prices.has('a')).toBe(true);
  });

  it('asks again once an answer is older than its age limit; with 0 every checkout asks', async () => {
    const aged = directory(40);
    await aged.prices.get({ ids: ['a'] });
    await aged.prices.priced(['a']);
    expect(aged.calls).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 60));
    await aged.prices.priced(['a']);
    expect(aged.calls).toHaveLength(2);

    const never = directory(0);
    await never.prices.get({ ids: ['a'] });
    await never.prices.priced(['a']);
    await never.prices.priced(['a']);
    expect(never.calls).toHaveLength(3);
    expect(never.prices.size).toBe(0);
  });

  it('keeps at most maxEntries, forgetting the least recently used first', async () => {
    const { prices } = directory(60_000, 2);
    await prices.get({ ids: ['a', 'b'] });
    await prices.get({ ids: ['a'] });
    await prices.get({ ids: ['c'] });
    expect(['a', 'b', 'c'].map((id) => prices.has(id))).toEqual([true, false, true]);
  });
});

describe('wired to the product subgraph', () => {
  let stack: Stack;
  let admin: string;
  beforeAll(async () => {
    stack = await startStack({ subgraphs: [productSubgraph, createCartSubgraph()], gateway: startGateway });
    admin = adminToken(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A product the cart has priced (adding it to a cart asks for it). */
  async function known(): Promise<string> {
    const p = await product(stack, { price: 500, stock: 10 });
    const cartId = ok(await stack.gql(CREATE_CART)).createCart.id;
    ok(await stack.gql(ADD, { c: cartId, p: p.id, q: 1 }));
    expect(cartSvc(stack).carts.prices.has(p.id)).toBe(true);
    return p.id;
  }
  const forgets = async (what: string, ids: string[]) => {
    const prices = cartSvc(stack).carts.prices;
    const deadline = Date.now() + 5000;
    while (ids.some((id) => prices.has(id))) {
      if (Date.now() > deadline) throw new Error(`the cart did not forget ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('an archived product is forgotten (product.archived)', async () => {
    const id = await known();
    const other = await known();
    ok(await stack.gql(`mutation($id: ID!) { deleteProduct(id: $id) }`, { id }, admin));
    await forgets('the archived product', [id]);
    expect(cartSvc(stack).carts.prices.has(other)).toBe(true);
  });

  it('a new deal list makes every cart forget every price (the product.prices notice)', async () => {
    const ids = [await known(), await known()];
    await productSvc(stack).redis.del('deals:current');
    ok(await stack.gql(`{ deals { product { id } } }`));
    await forgets('the prices after a new deal list', ids);
  });

  it('a lost NATS connection makes it forget everything: notices sent meanwhile are not replayed', async () => {
    const ids = [await known(), await known()];
    await cartSvc(stack).bus.nc.reconnect();
    await forgets('the prices after reconnecting', ids);
  });
});

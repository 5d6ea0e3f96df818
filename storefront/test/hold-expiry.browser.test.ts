import { Journey, pickProduct, seconds, startJourney } from './harness';

/**
 * Journey 2, in Chromium against the real stack: with a short hold (CART_HOLD_SECONDS=6) a guest's cart expires
 * while the page is open — the countdown runs down over the cartTimer subscription and the page turns into
 * "Your hold expired", from which a new cart can be started.
 */
jest.setTimeout(120_000);

let j: Journey;
beforeAll(async () => {
  j = await startJourney('hold-expiry', {
    env: { CART_HOLD_SECONDS: '6', CART_TIMER_TICK_SECONDS: '1' },
    products: 12,
  });
});
afterAll(() => j?.stop());

test('a guest watches the hold run out in the cart and starts again', async () => {
  const started = Date.now();
  const { page, origin } = j;
  const product = await pickProduct(j.stack);

  await page.goto(`${origin}/products/${product.id}`);
  await page.getByRole('heading', { level: 1, name: product.name }).waitFor();
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.getByRole('status').getByText('Added 1 to your cart').waitFor();

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cart (1)' }).click();
  const timer = page.getByRole('timer', { name: 'Time left to check out' });
  await timer.waitFor();
  expect(seconds(await timer.innerText())).toBeLessThanOrEqual(6);
  await j.shot('cart-holding');

  await page.getByRole('heading', { level: 1, name: 'Your hold expired' }).waitFor({ timeout: 20_000 });
  await expect(timer.count()).resolves.toBe(0);
  await expect(page.getByRole('link', { name: 'Cart', exact: true }).count()).resolves.toBe(1);
  await j.shot('hold-expired', { mobile: true });

  // The stock went back: the product page offers all of it again.
  await page.getByRole('button', { name: 'Start a new cart' }).click();
  await page.getByText('Your cart is empty.').waitFor();
  await j.shot('new-cart');
  await page.goto(`${origin}/products/${product.id}`);
  await page.getByText(`In stock: ${product.stock} available`).waitFor();

  expect(j.problems).toEqual([]);
  console.log(`hold-expiry journey: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

import { Journey, pickProduct, seconds, startJourney } from './harness';

/**
 * Journey 1, in Chromium against the real stack (SAFELIST=on): a guest searches, filters, opens a product, adds it to
 * the cart and watches the countdown tick; signs up, follows the verification link from the development mailbox,
 * signs in and finds the guest cart merged; checks out with the declining card (declined, cart intact), then with
 * the succeeding one; sees the order in the history; the confirmation email exists. The steps run in order and share
 * the page: a failing step names the part of the journey that broke.
 */
jest.setTimeout(120_000);

let j: Journey;
let product: Awaited<ReturnType<typeof pickProduct>>;
const started = Date.now();
const timings: string[] = [];
const email = `journey.${Date.now()}@example.com`;
const password = 'correct horse battery staple 42';
let orderNumber = '';

beforeAll(async () => {
  j = await startJourney('journey', { env: { CART_TIMER_TICK_SECONDS: '1' } });
  timings.push(`stack up ${((Date.now() - started) / 1000).toFixed(1)} s`);
  product = await pickProduct(j.stack, { deal: false });
});
afterAll(async () => {
  await j?.stop();
  console.log(`journey timings: ${timings.join(', ')}; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/** Runs a step and records how long it took. */
function step(name: string, fn: () => Promise<void>) {
  test(name, async () => {
    const t = Date.now();
    await fn();
    timings.push(`${name.split(':')[0]} ${((Date.now() - t) / 1000).toFixed(1)} s`);
  });
}

const nav = () => j.page.getByRole('navigation', { name: 'Main' });
const firstWord = (name: string) => name.split(/\s+/).find((w) => w.length >= 4) ?? name.split(/\s+/)[0];

step('guest: home shows deals and new products', async () => {
  const { page, origin } = j;
  await page.goto(`${origin}/`);
  await page.getByRole('heading', { name: 'Today’s deals' }).waitFor();
  const deals = page.getByRole('list', { name: 'Today’s deals' }).getByRole('listitem');
  await deals.first().waitFor();
  expect(await deals.count()).toBe(4);
  // A deal shows its price and the struck-through regular one.
  await expect(deals.first().locator('del').count()).resolves.toBe(1);
  await page.getByRole('list', { name: 'New in the shop' }).getByRole('listitem').first().waitFor();
  await j.shot('home', { mobile: true });
});

step('guest: catalog search, filters, facets and pages live in the URL', async () => {
  const { page } = j;
  await nav().getByRole('link', { name: 'Catalog' }).click();
  await page.getByRole('heading', { level: 1, name: 'Catalog' }).waitFor();
  await page.getByText(/^30 products$/).waitFor();

  // Pages: 12 per page, Next and Previous.
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('30 products · page 2').waitFor();
  expect(page.url()).toMatch(/[?&]after=/);
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.getByText(/^30 products$/).waitFor();
  expect(page.url()).not.toMatch(/after=/);

  const word = firstWord(product.name);
  await page.getByRole('searchbox', { name: 'Search products' }).fill(word);
  await page.getByRole('searchbox', { name: 'Search products' }).press('Enter');
  await page.waitForURL(/[?&]q=/);
  const facets = page.getByRole('navigation', { name: 'Matching categories' });
  await facets.getByRole('link', { name: new RegExp(`^${product.category.name} \\(\\d+\\)$`) }).waitFor();
  await j.shot('catalog-search');

  // A facet narrows to its category; the select follows.
  await facets.getByRole('link', { name: new RegExp(`^${product.category.name} \\(\\d+\\)$`) }).click();
  await page.waitForURL(new RegExp(`[?&]category=${product.category.slug}`));
  // The URL changes first; the select renders its new value on the next render (waitFor fails the test on timeout).
  await page
    .getByLabel('Category')
    .locator(`option[value="${product.category.slug}"]:checked`)
    .waitFor({ state: 'attached', timeout: 10_000 });
  await expect(page.getByLabel('Category').inputValue()).resolves.toBe(product.category.slug);

  await page.getByLabel('In stock only').check();
  await page.waitForURL(/[?&]inStock=1/);
  const dollars = product.price / 100;
  await page.getByLabel('Minimum price').fill(String(Math.floor(dollars)));
  await page.getByLabel('Maximum price').fill(String(Math.ceil(dollars)));
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.waitForURL(/[?&]maxPrice=/);
  await page.getByLabel('Sort by').selectOption('PRICE_ASC');
  await page.waitForURL(/[?&]sort=PRICE_ASC/);

  const url = new URL(page.url());
  expect(Object.fromEntries(url.searchParams)).toEqual({
    q: word,
    category: product.category.slug,
    inStock: '1',
    minPrice: String(Math.floor(dollars)),
    maxPrice: String(Math.ceil(dollars)),
    sort: 'PRICE_ASC',
  });
  const results = page.getByRole('list', { name: 'Products' });
  await results.getByRole('link', { name: product.name }).waitFor();
  await j.shot('catalog-filtered', { mobile: true });

  // The URL alone restores the page (reload).
  await page.reload();
  await results.getByRole('link', { name: product.name }).waitFor();
  await expect(page.getByRole('searchbox', { name: 'Search products' }).inputValue()).resolves.toBe(word);
});

step('guest: product page with responsive images, stock and add to cart', async () => {
  const { page } = j;
  await page.getByRole('list', { name: 'Products' }).getByRole('link', { name: product.name }).click();
  await page.getByRole('heading', { level: 1, name: product.name }).waitFor();
  const img = page.locator('img.gallery-main');
  const srcset = (await img.getAttribute('srcset')) ?? '';
  expect(srcset).toMatch(/ 300w/);
  expect(srcset).toMatch(/ 600w/);
  expect(await img.getAttribute('sizes')).toBeTruthy();
  // The browser picked one of the renditions and it loaded.
  await page.waitForFunction(() => {
    const el = document.querySelector('img.gallery-main') as HTMLImageElement | null;
    return !!el && el.complete && el.naturalWidth > 0;
  });
  await page.getByText(`In stock: ${product.stock} available`).waitFor();

  await page.getByLabel('Quantity').fill('2');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.getByRole('status').getByText('Added 2 to your cart').waitFor();
  await nav().getByRole('link', { name: 'Cart (2)' }).waitFor();
  // Held units are no longer available to others.
  await page.getByText(`In stock: ${product.stock - 2} available`).waitFor();
  await j.shot('product', { mobile: true });
});

step('guest: the cart countdown ticks live', async () => {
  const { page } = j;
  await nav().getByRole('link', { name: 'Cart (2)' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your cart' }).waitFor();
  await expect(page.getByLabel(`Quantity for ${product.name}`).inputValue()).resolves.toBe('2');
  await page.getByRole('button', { name: `Remove ${product.name}` }).waitFor();

  const timer = page.getByRole('timer', { name: 'Time left to check out' });
  const readings = [seconds(await timer.innerText())];
  for (let tick = 0; tick < 2; tick++) {
    const before = readings[readings.length - 1];
    await page.waitForFunction(
      (prev) => {
        const el = document.querySelector('[role="timer"]');
        const m = el && /(\d+):(\d{2})/.exec(el.textContent ?? '');
        return !!m && Number(m[1]) * 60 + Number(m[2]) < prev;
      },
      before,
      { timeout: 10_000 },
    );
    readings.push(seconds(await timer.innerText()));
  }
  expect(readings[0]).toBeLessThanOrEqual(600);
  expect(readings[1]).toBeLessThan(readings[0]);
  expect(readings[2]).toBeLessThan(readings[1]);
  await j.shot('cart-guest', { mobile: true });
});

step('sign up, verify from the development mailbox, sign in: the guest cart is merged', async () => {
  const { page, origin } = j;
  const guestCartId = await page.evaluate(() => window.localStorage.getItem('shop.guestCartId'));
  expect(guestCartId).toBeTruthy();

  await page.goto(`${origin}/sign-up`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('First name').fill('Grace');
  await page.getByLabel('Last name').fill('Hopper');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  await j.shot('check-email');

  await j.stack.env.mail.waitFor((m) => m.to.includes(email) && /verify/i.test(m.subject));
  // The mailbox (in this tab or its own) lists the email; its link opens the storefront's verify page.
  const link = page.getByRole('link', { name: 'Open the development mailbox' });
  const ownTab = (await link.getAttribute('target')) === '_blank';
  const [mailbox] = await Promise.all([ownTab ? j.context.waitForEvent('page') : Promise.resolve(page), link.click()]);
  await mailbox.getByRole('heading', { name: 'Development mailbox' }).waitFor();
  await j.shot('mailbox', { page: mailbox });
  await mailbox
    .getByRole('link', { name: new RegExp(`^${origin}/verify-email\\?token=`) })
    .first()
    .click();
  await mailbox.getByRole('heading', { name: 'Email verified' }).waitFor();
  await j.shot('email-verified', { page: mailbox });
  if (mailbox !== page) await mailbox.close();

  await page.goto(`${origin}/sign-in`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await nav().getByRole('link', { name: 'Account' }).waitFor();
  await nav().getByRole('button', { name: 'Sign out' }).waitFor();
  // Sign-in merges the guest cart, then goes on to the page it came from.
  await page.waitForURL((u) => u.pathname !== '/sign-in');

  // The guest cart moved into the user's cart and the guest id is gone from the browser.
  await nav().getByRole('link', { name: 'Cart (2)' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your cart' }).waitFor();
  await expect(page.getByLabel(`Quantity for ${product.name}`).inputValue()).resolves.toBe('2');
  await page.getByRole('timer', { name: 'Time left to check out' }).waitFor();
  expect(await page.evaluate(() => window.localStorage.getItem('shop.guestCartId'))).toBeNull();
  await j.shot('cart-merged');
});

step('checkout: the declined card changes nothing, the good card buys', async () => {
  const { page } = j;
  await page.getByRole('link', { name: 'Check out' }).click();
  await page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
  await page.getByLabel('Full name').fill('Grace Hopper');
  await page.getByLabel('Street address').fill('1 Harbor Way');
  await page.getByLabel('City').fill('Arlington');
  await page.getByLabel('Postal code').fill('22201');
  await page.getByLabel('Country').selectOption('US');
  await page.getByLabel('Card').selectOption({ label: 'Card ending 0002 (declined)' });
  await page.getByRole('button', { name: 'Place order' }).click();
  const alert = page.locator('p.error[role="alert"][data-code="PAYMENT_DECLINED"]');
  await alert.waitFor();
  expect(await alert.innerText()).toMatch(/declined/i);
  expect(await alert.innerText()).not.toMatch(/[{}]/);
  await j.shot('checkout-declined', { mobile: true });
  // Cart intact: still on checkout with both units.
  await nav().getByRole('link', { name: 'Cart (2)' }).waitFor();
  expect(new URL(page.url()).pathname).toBe('/checkout');

  await page.getByLabel('Card').selectOption({ label: 'Visa ending 4242 (succeeds)' });
  await page.getByRole('button', { name: 'Place order' }).click();
  await page.getByRole('heading', { name: 'Thank you for your order' }).waitFor();
  expect(new URL(page.url()).pathname).toMatch(/^\/orders\/[\w-]+$/);
  orderNumber = (await page.locator('.notice.success strong').innerText()).trim();
  expect(orderNumber).toMatch(/\S+/);
  await nav().getByRole('link', { name: 'Cart', exact: true }).waitFor();
  await j.shot('order-confirmation', { mobile: true });
});

step('orders: the order is in the history and the confirmation email was sent', async () => {
  const { page } = j;
  await nav().getByRole('link', { name: 'Orders' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your orders' }).waitFor();
  const row = page.getByRole('row', { name: new RegExp(orderNumber) });
  await row.waitFor();
  expect(await row.innerText()).toMatch(/Paid/);
  await j.shot('orders', { mobile: true });

  await row.getByRole('link', { name: orderNumber }).click();
  await page.getByRole('heading', { level: 1, name: `Order ${orderNumber}` }).waitFor();
  await page.getByText(product.name).first().waitFor();
  await j.shot('order-detail');

  const confirmation = await j.stack.env.mail.waitFor(
    (m) => m.to.includes(email) && m.subject === `Your order ${orderNumber} is confirmed`,
  );
  expect(confirmation.text).toContain(product.name);
  expect(j.problems).toEqual([]);
});

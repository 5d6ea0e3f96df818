import type { Page, Response } from 'playwright-core';
import { Journey, startJourney } from './harness';

/**
 * The account pages in Chromium against the real stack (SAFELIST=on): sign-up with the form's own checks, "Check your
 * email" with the development mailbox, the emailed verification link, sign-in with cookie sessions (renewed by the
 * refresh cookie when the access cookie is gone or refused), the account page, sign-out; and the failures a person
 * meets — a wrong password, a taken email, a spent or made-up verification link — in plain words.
 */
jest.setTimeout(180_000);

let j: Journey;
beforeAll(async () => {
  j = await startJourney('account', { products: 6 });
});
afterAll(() => j?.stop());

const PASSWORD = 'correct horse battery';

const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });

/** The API's errors are shown as sentences: never JSON, never a raw GraphQL message. */
async function expectPlainWords(page: Page, text: string): Promise<void> {
  const alert = page.getByRole('alert').filter({ hasText: text });
  await alert.waitFor();
  const shown = await alert.innerText();
  expect(shown).not.toMatch(/[{}[\]]|"code"|extensions|GraphQL/);
}

async function signUp(page: Page, email: string): Promise<void> {
  await page.goto(`${j.origin}/sign-up`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('First name').fill('Grace');
  await page.getByLabel('Last name').fill('Hopper');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
}

/** The verification link as the development mailbox shows it (the newest mail to `email`). */
async function verificationLink(mailbox: Page, email: string): Promise<string> {
  await j.stack.env.mail.waitFor((m) => m.to.includes(email) && m.text.includes('/verify-email?token='));
  await mailbox.reload();
  const link = mailbox.locator('article', { hasText: email }).locator('a[href*="/verify-email?token="]').first();
  await link.waitFor();
  const href = await link.getAttribute('href');
  expect(href).toMatch(new RegExp(`^${j.origin}/verify-email\\?token=`));
  return href!;
}

/** The newest link containing `path` in a mail to `email` (the stack's development mailbox). */
async function linkFromMail(email: string, path: string): Promise<string> {
  const find = (text: string) => text.match(/https?:\/\/\S+/g)?.find((u) => u.includes(path));
  const mail = await j.stack.env.mail.waitFor((m) => m.to.includes(email) && !!find(m.text));
  return find(mail.text)!;
}

async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('sign up, verify from the development mailbox, sign in, the account page, a renewed session, sign out', async () => {
  const started = Date.now();
  const { page, context } = j;
  const email = `grace.${Date.now()}@example.com`;

  // The form's own checks: nothing is sent, the message sits beside the field and the field is focused.
  await page.goto(`${j.origin}/sign-up`);
  await page.getByLabel('Email').fill('not-an-address');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText('Enter a valid email address (just name@domain).').waitFor();
  await page.getByText('Password must be at least 10 characters long.').waitFor();
  await expect(page.getByLabel('Email').evaluate((el) => el === document.activeElement)).resolves.toBe(true);
  await j.shot('sign-up-checks', { mobile: true });

  await signUp(page, email);
  await page.getByText(email).first().waitFor();
  await page.getByRole('button', { name: 'Send the link again' }).click();
  await page.getByRole('status').getByText('a new link is on its way').waitFor();
  await j.shot('check-email', { mobile: true });

  // "Open the development mailbox": the gateway's /dev/mail; its links open the storefront.
  const mailboxLink = page.getByRole('link', { name: 'Open the development mailbox' });
  await expect(mailboxLink.evaluate((a) => (a as HTMLAnchorElement).href)).resolves.toBe(`${j.origin}/dev/mail`);
  await mailboxLink.click();
  await page.getByRole('heading', { level: 1, name: 'Development mailbox' }).waitFor();
  const link = await verificationLink(page, email);

  await page.goto(link);
  await page.getByRole('heading', { level: 1, name: 'Email verified' }).waitFor();
  await j.shot('email-verified', { mobile: true });

  // The link is single-use: opened again, it says so in plain words and offers a new one.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'This verification link does not work' }).waitFor();
  await expectPlainWords(page, 'The link has expired, was already used, or is incomplete.');

  await page.goto(link.replace(/token=.*/, 'token=x'));
  await page.getByRole('heading', { level: 1, name: 'This verification link does not work' }).waitFor();
  await page.goto(`${j.origin}/sign-in`);

  await signIn(page, email);
  await nav(page).getByRole('link', { name: 'Account' }).waitFor();
  await expect(page.getByRole('button', { name: 'Sign out' }).isVisible()).resolves.toBe(true);
  await nav(page).getByRole('link', { name: 'Account' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  await page.getByText(email).waitFor();
  await expect(page.getByTestId('email-verified').innerText()).resolves.toBe('Verified');
  await expect(page.getByLabel('First name').inputValue()).resolves.toBe('Grace');
  await j.shot('account', { mobile: true });

  // The tokens are HttpOnly cookies: the page's script cannot read them, and the API's answers do not carry them.
  await expect(page.evaluate(() => document.cookie)).resolves.not.toMatch(/shop_/);
  const cookies = await context.cookies(`${j.origin}/graphql`);
  expect(cookies.map((c) => c.name).sort()).toEqual(['shop_refresh', 'shop_session']);
  expect(cookies.every((c) => c.httpOnly && c.path === '/graphql')).toBe(true);

  // Edit the name; it stays after a reload (the session is the cookies, not the page).
  await page.getByLabel('First name').fill('Amazing Grace');
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.getByRole('status').getByText('Your name is saved.').waitFor();
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  await page.getByText('Amazing Grace Hopper').waitFor();

  // The short-lived access cookie is gone (as after its Max-Age): a reload renews the session from the refresh cookie.
  await context.clearCookies({ name: 'shop_session' });
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  await page.getByText('Amazing Grace Hopper').waitFor();
  expect((await context.cookies(`${j.origin}/graphql`)).map((c) => c.name).sort()).toEqual([
    'shop_refresh',
    'shop_session',
  ]);

  // The access cookie is refused (UNAUTHENTICATED): on the home page several queries fail at once; they share one
  // refresh and each goes through on its retry.
  await context.clearCookies({ name: 'shop_session' });
  await context.addCookies([
    {
      name: 'shop_session',
      value: 'not-a-token',
      domain: 'localhost',
      path: '/graphql',
      httpOnly: true,
      sameSite: 'Lax',
    },
  ]);
  const refused: string[] = [];
  const refreshes: string[] = [];
  const watch = (res: Response) => {
    if (!res.url().endsWith('/graphql')) return;
    const name = String((res.request().postDataJSON() as { operationName?: string } | null)?.operationName);
    if (name === 'RefreshSession') refreshes.push(name);
    else if (res.status() === 401) refused.push(name);
  };
  page.on('response', watch);
  await page.goto(`${j.origin}/`);
  await nav(page).getByRole('link', { name: 'Account' }).waitFor();
  await page.getByRole('heading', { name: 'Today’s deals' }).waitFor();
  page.off('response', watch);
  expect(refused.length).toBeGreaterThanOrEqual(2);
  expect(refreshes).toHaveLength(1);
  await nav(page).getByRole('link', { name: 'Account' }).click();
  await page.getByText('Amazing Grace Hopper').waitFor();

  // The session is over in the gateway (both cookies gone): the next operation fails, the one refresh is refused,
  // the user is cleared and the account page sends to sign-in; signing in there comes back to it.
  await context.clearCookies();
  await page.getByLabel('First name').fill('Grace');
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await nav(page).getByRole('link', { name: 'Sign in' }).waitFor();
  await signIn(page, email);
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  await page.getByText('Amazing Grace Hopper').waitFor();

  // Sign out: the header offers sign-in again, the cookies are gone, and the account page sends to sign-in.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await nav(page).getByRole('link', { name: 'Sign in' }).waitFor();
  await expect(context.cookies(`${j.origin}/graphql`)).resolves.toEqual([]);
  await page.goto(`${j.origin}/account`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await j.shot('signed-out');

  expect(j.problems).toEqual([]);
  console.log(`account journey: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test('a wrong password, a taken email and a made-up verification link are explained in plain words', async () => {
  const { page } = j;
  const email = `ada.${Date.now()}@example.com`;
  await signUp(page, email);

  // Not verified yet: sign-in says so and points to a new link.
  await page.goto(`${j.origin}/sign-in`);
  await signIn(page, email);
  await expectPlainWords(page, 'Please verify your email address first');
  await page.getByRole('link', { name: 'Get a new verification link' }).waitFor();

  await signIn(page, email, 'wrong password here');
  await expectPlainWords(page, 'That email and password do not match an account.');
  await expect(page.getByRole('alert').getAttribute('data-code')).resolves.toBe('INVALID_CREDENTIALS');
  await j.shot('wrong-password', { mobile: true });

  // The API's answer that names a field (extensions.field) is shown beside that field.
  await page.goto(`${j.origin}/sign-up`);
  await page.getByLabel('Email').fill(email.toUpperCase());
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  const taken = page.locator('#field-email-error');
  await taken.waitFor();
  await expect(taken.innerText()).resolves.toBe('An account with that email already exists. Try signing in.');
  await expect(taken.getAttribute('data-code')).resolves.toBe('EMAIL_TAKEN');
  await expect(page.getByLabel('Email').getAttribute('aria-describedby')).resolves.toContain('field-email-error');
  await j.shot('email-taken');

  await page.goto(`${j.origin}/verify-email?token=${'0'.repeat(43)}`);
  await page.getByRole('heading', { level: 1, name: 'This verification link does not work' }).waitFor();
  await expectPlainWords(page, 'The link has expired, was already used, or is incomplete.');
  await expect(page.getByRole('alert').getAttribute('data-code')).resolves.toBe('INVALID_TOKEN');
  // From there a new link can be asked for.
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send a new link' }).click();
  await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
  await j.shot('verify-invalid');

  expect(j.problems).toEqual([]);
});

test('a forgotten password: the emailed link sets a new one, and only the new one signs in', async () => {
  const { page } = j;
  const email = `hedy.${Date.now()}@example.com`;
  await signUp(page, email);
  await page.goto(await linkFromMail(email, '/verify-email?token='));
  await page.getByRole('heading', { level: 1, name: 'Email verified' }).waitFor();

  await page.goto(`${j.origin}/sign-in`);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { level: 1, name: 'Reset your password' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await page.getByRole('heading', { level: 1, name: 'Check your email' }).waitFor();
  await page.getByRole('link', { name: 'Open the development mailbox' }).waitFor();

  const reset = await linkFromMail(email, '/reset-password?token=');
  await page.goto(reset);
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('Repeat the new password').fill('short');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.getByText('Password must be at least 10 characters long.').waitFor();
  const next = 'a brand new passphrase';
  await page.getByLabel('New password', { exact: true }).fill(next);
  await page.getByLabel('Repeat the new password').fill(next);
  await page.getByRole('button', { name: 'Set new password' }).click();
  await page.getByRole('heading', { level: 1, name: 'Password changed' }).waitFor();
  await j.shot('password-changed');

  // The link is spent.
  await page.goto(reset);
  await page.getByLabel('New password', { exact: true }).fill(next);
  await page.getByLabel('Repeat the new password').fill(next);
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expectPlainWords(page, 'This reset link has expired, was already used, or is incomplete.');

  await page.goto(`${j.origin}/sign-in`);
  await signIn(page, email);
  await expectPlainWords(page, 'That email and password do not match an account.');
  await signIn(page, email, next);
  await nav(page).getByRole('link', { name: 'Account' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await nav(page).getByRole('link', { name: 'Sign in' }).waitFor();
  expect(j.problems).toEqual([]);
});

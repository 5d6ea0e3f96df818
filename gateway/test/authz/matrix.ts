/**
 * The authorization matrix: every root field of the public API × who calls it → what happens.
 * It is the documentation (rendered into docs/security.md by `npm run docs:authz`) and the test
 * (`gateway/test/authz/matrix.test.ts` drives every cell through the real gateway with real fixtures).
 *
 * Pure data + fixture recipes: this file imports nothing at run time so the docs renderer can load it.
 */

export const ROLES = ['anonymous', 'user', 'other', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const ROLE_TITLES: Record<Role, string> = {
  anonymous: 'anonymous',
  user: 'user (owner)',
  other: 'another user',
  admin: 'admin',
};

/**
 * `allowed`: answers data; `null`: answers null without an error (the resource is not visible — its existence is not revealed);
 * otherwise the error code of the refusal.
 */
export type Outcome = 'allowed' | 'null' | 'UNAUTHENTICATED' | 'FORBIDDEN';

/** What the matrix test hands each cell: real resources made through the gateway for this cell. */
export interface Fixtures {
  /** Signed-in tokens of the three accounts (undefined for anonymous). */
  token(role: Role): string | undefined;
  /** The current password of the account behind a role (changePassword rows update it). */
  passwords: Record<'user' | 'other' | 'admin', string>;
  ids: Record<'user' | 'other' | 'admin', string>;
  /** A new in-stock product. */
  product(): Promise<string>;
  /** A new unique category slug (not created). */
  slug(): string;
  /** The owner's (role `user`) active cart with one more line; returns the cart and that line's product. */
  userCart(): Promise<{ cartId: string; productId: string }>;
  /** Makes sure the caller has a cart of their own (nothing for anonymous). */
  ownCart(role: Role): Promise<void>;
  /** A new guest cart with one line. */
  guestCart(): Promise<{ cartId: string; productId: string }>;
  /** A new PAID order of the owner (role `user`). */
  order(): Promise<string>;
  /** A new verified account that nobody is signed in to. */
  account(): Promise<{ id: string; email: string; password: string }>;
  /** The raw verification token of a new unverified account. */
  verificationToken(): Promise<string>;
  /** The raw password-reset token of a new account. */
  resetToken(): Promise<string>;
  /** A refresh token of a new session of a new account. */
  refreshToken(): Promise<string>;
  /** A new uploaded (READY) image. */
  image(): Promise<string>;
  /** The id of a new dead letter in the DLQ stream (a message a consumer refused for good). */
  deadLetter(): Promise<string>;
}

export interface MatrixRow {
  /** `Query.cart`, `Mutation.addToCart`, `Subscription.cartTimer`. */
  field: string;
  /** Which resource the row is about when a field has several rows. */
  on?: string;
  document: string;
  /** Variables for one cell; may create fresh resources (mutations that consume them get new ones per cell). */
  variables?(fx: Fixtures, role: Role): Promise<Record<string, unknown>> | Record<string, unknown>;
  expect: Record<Role, Outcome>;
  note?: string;
  /** Mutations: what a refused cell must leave exactly as it was (compared before and after the call), from its variables. */
  untouched?(variables: Record<string, any>, fx: Fixtures): Untouched[];
}

/**
 * State of one resource: the rows of `table` in `service`'s database whose `column` equals `value` (every row of the
 * table without a column), or a cart (its Redis entry and deadline; carts live in Redis).
 */
export type Untouched =
  | { service: 'user' | 'product' | 'order' | 'media'; table: string; column?: string; value?: string }
  | { service: 'cart'; cartId: string }
  | { service: 'notification'; deadLetter: string };

const rows = (
  service: 'user' | 'product' | 'order' | 'media',
  table: string,
  column?: string,
  value?: string,
): Untouched => ({ service, table, column, value });
/** A cart: its record and the stock it holds (the holds live in the product store). */
const cartState = (cartId: string): Untouched[] => [
  { service: 'cart', cartId },
  rows('product', 'stock_hold', 'cart_id', cartId),
];
/** The three signed-in accounts (a refused anonymous call about "my" account may change none of them). */
const accounts = (fx: Fixtures): Untouched[] => Object.values(fx.ids).map((id) => rows('user', 'users', 'id', id));
const product = (id: string): Untouched[] => [
  rows('product', 'products', 'id', id),
  rows('product', 'stock_movements', 'product_id', id),
];
const order = (id: string): Untouched[] => [
  rows('order', 'orders', 'id', id),
  rows('order', 'order_items', 'order_id', id),
  rows('order', 'payments', 'order_id', id),
];

const everyone: Record<Role, Outcome> = { anonymous: 'allowed', user: 'allowed', other: 'allowed', admin: 'allowed' };
const signedIn: Record<Role, Outcome> = {
  anonymous: 'UNAUTHENTICATED',
  user: 'allowed',
  other: 'allowed',
  admin: 'allowed',
};
const adminOnly: Record<Role, Outcome> = {
  anonymous: 'UNAUTHENTICATED',
  user: 'FORBIDDEN',
  other: 'FORBIDDEN',
  admin: 'allowed',
};
/** A user's own resource: the owner and admins. */
const ownerOrAdmin: Record<Role, Outcome> = {
  anonymous: 'FORBIDDEN',
  user: 'allowed',
  other: 'FORBIDDEN',
  admin: 'allowed',
};

const ADDRESS = { name: 'Ann Buyer', line1: '1 Main Street', city: 'Springfield', postalCode: '12345', country: 'US' };
const CART = 'id status items { quantity }';
let counter = 0;
const unique = (tag: string) => `${tag}.${Date.now().toString(36)}.${++counter}`;

export const MATRIX: MatrixRow[] = [
  // ---- user
  {
    field: 'Query.me',
    document: '{ me { id email } }',
    expect: { anonymous: 'null', user: 'allowed', other: 'allowed', admin: 'allowed' },
    note: 'the caller',
  },
  { field: 'Query.users', document: '{ users(first: 5) { totalCount } }', expect: adminOnly },
  {
    field: 'Mutation.register',
    document: 'mutation($i: RegisterInput!) { register(input: $i) { id } }',
    variables: () => ({ i: { email: `${unique('reg')}@example.com`, password: 'correct horse battery' } }),
    expect: everyone,
  },
  {
    field: 'Mutation.verifyEmail',
    document: 'mutation($t: String!) { verifyEmail(token: $t) }',
    variables: async (fx) => ({ t: await fx.verificationToken() }),
    expect: everyone,
  },
  {
    field: 'Mutation.resendVerificationEmail',
    document: 'mutation($e: String!) { resendVerificationEmail(email: $e) }',
    variables: () => ({ e: `${unique('nobody')}@example.com` }),
    expect: everyone,
  },
  {
    field: 'Mutation.login',
    document: 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }',
    variables: async (fx) => {
      const a = await fx.account();
      return { e: a.email, p: a.password };
    },
    expect: everyone,
  },
  {
    field: 'Mutation.refreshToken',
    document: 'mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }',
    variables: async (fx) => ({ t: await fx.refreshToken() }),
    expect: everyone,
    note: 'the token is the credential',
  },
  {
    field: 'Mutation.logout',
    document: 'mutation($t: String!) { logout(refreshToken: $t) }',
    variables: async (fx) => ({ t: await fx.refreshToken() }),
    expect: everyone,
    note: 'the token is the credential',
  },
  {
    field: 'Mutation.requestPasswordReset',
    document: 'mutation($e: String!) { requestPasswordReset(email: $e) }',
    variables: () => ({ e: `${unique('nobody')}@example.com` }),
    expect: everyone,
  },
  {
    field: 'Mutation.resetPassword',
    document: 'mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }',
    variables: async (fx) => ({ t: await fx.resetToken(), p: 'another long passphrase' }),
    expect: everyone,
    note: 'the token is the credential',
  },
  {
    field: 'Mutation.updateProfile',
    document: 'mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id firstName } }',
    variables: () => ({ i: { firstName: 'Ann' } }),
    expect: signedIn,
    note: 'own profile only',
    untouched: (_v, fx) => accounts(fx),
  },
  {
    field: 'Mutation.changePassword',
    document: 'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
    variables: (fx, role) => {
      if (role === 'anonymous') return { c: 'whatever it was', n: 'a new long passphrase' };
      const c = fx.passwords[role];
      fx.passwords[role] = `${c} again`;
      return { c, n: fx.passwords[role] };
    },
    expect: signedIn,
    note: 'own password only',
    untouched: (_v, fx) => accounts(fx),
  },
  {
    field: 'Mutation.setUserRole',
    document: 'mutation($u: ID!) { setUserRole(userId: $u, role: ADMIN) { id role } }',
    variables: async (fx) => ({ u: (await fx.account()).id }),
    expect: adminOnly,
    untouched: (v) => [rows('user', 'users', 'id', v.u), rows('user', 'refresh_tokens', 'user_id', v.u)],
  },

  // ---- product
  { field: 'Query.products', document: '{ products(first: 2) { totalCount } }', expect: everyone },
  {
    field: 'Query.product',
    document: 'query($id: ID!) { product(id: $id) { id stock } }',
    variables: async (fx) => ({ id: await fx.product() }),
    expect: everyone,
  },
  { field: 'Query.categories', document: '{ categories { slug } }', expect: everyone },
  {
    field: 'Query.category',
    document: 'query($s: ID!) { category(slug: $s) { slug } }',
    variables: () => ({ s: 'audio' }),
    expect: everyone,
  },
  { field: 'Query.deals', document: '{ deals { discountPercent } }', expect: everyone },
  {
    field: 'Query.stockHistory',
    document: 'query($id: ID!) { stockHistory(productId: $id) { totalCount } }',
    variables: async (fx) => ({ id: await fx.product() }),
    expect: adminOnly,
  },
  {
    field: 'Mutation.createCategory',
    document: 'mutation($s: ID!) { createCategory(slug: $s, name: "Matrix") { slug } }',
    variables: (fx) => ({ s: fx.slug() }),
    expect: adminOnly,
    untouched: (v) => [rows('product', 'categories', 'slug', v.s)],
  },
  {
    field: 'Mutation.createProduct',
    document: 'mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }',
    variables: () => ({
      i: {
        sku: unique('MX').toUpperCase().replace(/\./g, '-'),
        name: 'Matrix item',
        description: 'x',
        category: 'audio',
        price: 100,
        stock: 1,
      },
    }),
    expect: adminOnly,
    untouched: (v) => [rows('product', 'products', 'sku', v.i.sku)],
  },
  {
    field: 'Mutation.updateProduct',
    document: 'mutation($id: ID!) { updateProduct(id: $id, input: { name: "Renamed" }) { id } }',
    variables: async (fx) => ({ id: await fx.product() }),
    expect: adminOnly,
    untouched: (v) => product(v.id),
  },
  {
    field: 'Mutation.deleteProduct',
    document: 'mutation($id: ID!) { deleteProduct(id: $id) }',
    variables: async (fx) => ({ id: await fx.product() }),
    expect: adminOnly,
    untouched: (v) => product(v.id),
  },
  {
    field: 'Mutation.adjustStock',
    document: 'mutation($id: ID!) { adjustStock(productId: $id, delta: 1, reason: "matrix") { id } }',
    variables: async (fx) => ({ id: await fx.product() }),
    expect: adminOnly,
    untouched: (v) => product(v.id),
  },

  // ---- media
  {
    field: 'Query.image',
    document: 'query($id: ID!) { image(id: $id) { id url } }',
    variables: async (fx) => ({ id: await fx.image() }),
    expect: everyone,
  },
  {
    field: 'Mutation.createImageUpload',
    document: 'mutation { createImageUpload(contentType: "image/png", filename: "a.png") { imageId } }',
    expect: adminOnly,
    untouched: () => [rows('media', 'images')],
  },
  {
    field: 'Mutation.attachProductImage',
    document: 'mutation($p: ID!, $i: ID!) { attachProductImage(productId: $p, imageId: $i) { id } }',
    variables: async (fx) => ({ p: await fx.product(), i: await fx.image() }),
    expect: adminOnly,
    untouched: (v) => [rows('media', 'images', 'id', v.i), ...product(v.p)],
  },
  {
    field: 'Mutation.deleteImage',
    document: 'mutation($id: ID!) { deleteImage(id: $id) }',
    variables: async (fx) => ({ id: await fx.image() }),
    expect: adminOnly,
    untouched: (v) => [rows('media', 'images', 'id', v.id)],
  },

  // ---- cart
  {
    field: 'Query.cart',
    on: "a user's cart",
    document: `query($id: ID!) { cart(id: $id) { ${CART} } }`,
    variables: async (fx) => ({ id: (await fx.userCart()).cartId }),
    expect: ownerOrAdmin,
  },
  {
    field: 'Query.cart',
    on: 'a guest cart',
    document: `query($id: ID!) { cart(id: $id) { ${CART} } }`,
    variables: async (fx) => ({ id: (await fx.guestCart()).cartId }),
    expect: everyone,
    note: 'the id is the capability',
  },
  {
    field: 'Query.myCart',
    document: `{ myCart { ${CART} } }`,
    variables: async (fx, role) => {
      await fx.ownCart(role);
      return {};
    },
    expect: signedIn,
    note: "the caller's own cart",
  },
  {
    field: 'Mutation.createCart',
    document: `mutation { createCart { ${CART} } }`,
    expect: everyone,
    note: "signed in: the caller's cart",
  },
  ...(['addToCart', 'updateCartItem', 'removeFromCart'] as const).flatMap((name): MatrixRow[] => {
    const args = name === 'removeFromCart' ? '(cartId: $c, productId: $p)' : '(cartId: $c, productId: $p, quantity: 1)';
    const document = `mutation($c: ID!, $p: ID!) { ${name}${args} { ${CART} } }`;
    return [
      {
        field: `Mutation.${name}`,
        on: "a user's cart",
        document,
        variables: async (fx) => {
          const c = await fx.userCart();
          return { c: c.cartId, p: c.productId };
        },
        expect: ownerOrAdmin,
        untouched: (v) => cartState(v.c),
      },
      {
        field: `Mutation.${name}`,
        on: 'a guest cart',
        document,
        variables: async (fx) => {
          const c = await fx.guestCart();
          return { c: c.cartId, p: c.productId };
        },
        expect: everyone,
        untouched: (v) => cartState(v.c),
      },
    ];
  }),
  {
    field: 'Mutation.mergeCart',
    on: 'a guest cart',
    document: `mutation($c: ID!) { mergeCart(cartId: $c) { ${CART} } }`,
    variables: async (fx) => ({ c: (await fx.guestCart()).cartId }),
    expect: signedIn,
    note: "into the caller's cart",
    untouched: (v) => cartState(v.c),
  },
  {
    field: 'Mutation.mergeCart',
    on: "a user's cart",
    document: `mutation($c: ID!) { mergeCart(cartId: $c) { ${CART} } }`,
    variables: async (fx) => ({ c: (await fx.userCart()).cartId }),
    expect: { anonymous: 'UNAUTHENTICATED', user: 'allowed', other: 'FORBIDDEN', admin: 'FORBIDDEN' },
    note: 'only guest carts merge; your own is a no-op',
    untouched: (v) => cartState(v.c),
  },
  {
    field: 'Subscription.cartTimer',
    on: "a user's cart",
    document: 'subscription($c: ID!) { cartTimer(cartId: $c) { cartId status } }',
    variables: async (fx) => ({ c: (await fx.userCart()).cartId }),
    expect: ownerOrAdmin,
    note: 'over graphql-ws',
  },
  {
    field: 'Subscription.cartTimer',
    on: 'a guest cart',
    document: 'subscription($c: ID!) { cartTimer(cartId: $c) { cartId status } }',
    variables: async (fx) => ({ c: (await fx.guestCart()).cartId }),
    expect: everyone,
    note: 'over graphql-ws',
  },

  // ---- order
  {
    field: 'Query.order',
    on: "a user's order",
    document: 'query($id: ID!) { order(id: $id) { id status } }',
    variables: async (fx) => ({ id: await fx.order() }),
    expect: { anonymous: 'UNAUTHENTICATED', user: 'allowed', other: 'null', admin: 'allowed' },
  },
  { field: 'Query.orders', document: '{ orders(first: 5) { totalCount } }', expect: adminOnly },
  {
    field: 'Query.me.orders',
    document: '{ me { orders(first: 5) { totalCount } } }',
    expect: { anonymous: 'null', user: 'allowed', other: 'allowed', admin: 'allowed' },
    note: "User.orders: the caller's own orders",
  },
  {
    field: 'Mutation.placeOrder',
    on: "a user's cart",
    document: 'mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id status } }',
    variables: async (fx) => ({
      i: { cartId: (await fx.userCart()).cartId, shippingAddress: ADDRESS, paymentToken: 'tok_visa' },
      k: unique('key'),
    }),
    expect: { anonymous: 'UNAUTHENTICATED', user: 'allowed', other: 'FORBIDDEN', admin: 'FORBIDDEN' },
    note: 'only the owner buys a cart',
    untouched: (v) => [...cartState(v.i.cartId), rows('order', 'orders', 'cart_id', v.i.cartId)],
  },
  {
    field: 'Mutation.updateOrderStatus',
    document: 'mutation($id: ID!) { updateOrderStatus(id: $id, status: SHIPPED) { id status } }',
    variables: async (fx) => ({ id: await fx.order() }),
    expect: adminOnly,
    untouched: (v) => order(v.id),
  },
  {
    field: 'Mutation.cancelOrder',
    on: "a user's order",
    document: 'mutation($id: ID!) { cancelOrder(id: $id) { id status } }',
    variables: async (fx) => ({ id: await fx.order() }),
    expect: { anonymous: 'UNAUTHENTICATED', user: 'allowed', other: 'FORBIDDEN', admin: 'allowed' },
    untouched: (v) => order(v.id),
  },

  // ---- notification
  { field: 'Query.emails', document: '{ emails(first: 5) { totalCount } }', expect: adminOnly },
  { field: 'Query.auditEvents', document: '{ auditEvents(first: 5) { totalCount } }', expect: adminOnly },
  { field: 'Query.logs', document: '{ logs(first: 5) { totalCount } }', expect: adminOnly },
  { field: 'Query.deadLetters', document: '{ deadLetters(first: 5) { totalCount } }', expect: adminOnly },
  {
    field: 'Mutation.replayDeadLetter',
    document: 'mutation($id: ID!) { replayDeadLetter(id: $id) }',
    variables: async (fx) => ({ id: await fx.deadLetter() }),
    expect: adminOnly,
    untouched: (v) => [{ service: 'notification', deadLetter: v.id }],
  },
  {
    field: 'Mutation.discardDeadLetter',
    document: 'mutation($id: ID!) { discardDeadLetter(id: $id) }',
    variables: async (fx) => ({ id: await fx.deadLetter() }),
    expect: adminOnly,
    untouched: (v) => [{ service: 'notification', deadLetter: v.id }],
  },
];

/** `Query.cart` → `cart`: the root field a row's answer is under. */
export function rootField(row: MatrixRow): string {
  return row.field.split('.')[1];
}

import { randomUUID } from 'node:crypto';
import { signAccessToken } from '@shop/kernel';
import { codes, fields, ok, rawSql, Stack, subgraphGqlFor } from '@shop/kernel/testing';
import type { StartedProduct } from '../src';

export const PRODUCT_FIELDS = `id sku name description category { slug name productCount } price { amount currency formatted }
  stock inStock createdAt updatedAt archivedAt`;

export const CREATE_PRODUCT = `mutation Create($input: CreateProductInput!) { createProduct(input: $input) { ${PRODUCT_FIELDS} } }`;
export const CREATE_CATEGORY = `mutation Cat($slug: ID!, $name: String!) { createCategory(slug: $slug, name: $name) { slug name productCount } }`;
export const ADJUST = `mutation Adjust($id: ID!, $delta: Int!, $reason: String!) { adjustStock(productId: $id, delta: $delta, reason: $reason) { id stock inStock } }`;

export const adminToken = (stack: Stack, sub: string = randomUUID()) =>
  signAccessToken(stack.env.keys, { sub, role: 'ADMIN' });
export const userToken = (stack: Stack, sub: string = randomUUID()) =>
  signAccessToken(stack.env.keys, { sub, role: 'USER' });

export const svc = (stack: Stack) => stack.services.product as StartedProduct;

/** Raw SQL on the product database (assertions and fixtures). */
export const db = (stack: Stack) => rawSql(svc(stack).orm);

/** GraphQL straight to the subgraph, as the gateway would send it (`_entities`, query counting). */
export const subgraphGql = subgraphGqlFor('product');

export { codes, fields, ok };

let seq = 0;
export const uniqueSku = (tag = 'SKU') => `${tag}-${Date.now().toString(36)}-${++seq}`.toUpperCase();

export async function ensureCategory(
  stack: Stack,
  token: string,
  slug: string,
  name = slug[0].toUpperCase() + slug.slice(1),
) {
  const res = await stack.gql(CREATE_CATEGORY, { slug, name }, token);
  if (res.errors && res.errors[0].extensions?.field !== 'slug') throw new Error(JSON.stringify(res.errors));
}

export interface NewProduct {
  sku?: string;
  name?: string;
  description?: string;
  category?: string;
  price?: number;
  currency?: string;
  stock?: number;
}

export async function createProduct(stack: Stack, token: string, input: NewProduct = {}) {
  const res = await stack.gql(
    CREATE_PRODUCT,
    {
      input: {
        sku: uniqueSku(),
        name: 'Test product',
        description: 'A product for tests.',
        category: 'audio',
        price: 1000,
        stock: 5,
        ...input,
      },
    },
    token,
  );
  return ok(res).createProduct as {
    id: string;
    sku: string;
    name: string;
    stock: number;
    price: { amount: number };
    createdAt: string;
  };
}

/**
 * Makes `productId` today's only deal: the list is generated from the products in stock when first asked for, so
 * call this before creating any other product (the list then lasts DEALS_TTL_SECONDS).
 */
export async function onlyDeal(stack: Stack, productId: string): Promise<void> {
  const { deals } = ok(await stack.gql(`{ deals { product { id } discountPercent } }`));
  expect(deals).toEqual([{ product: { id: productId }, discountPercent: 20 }]);
}

import { isInputObjectType, isObjectType } from 'graphql';
import { composeModules } from '@shop/kernel';
import mediaSubgraph from '../../media/src';
import notification from '../../notification/src';
import productSubgraph from '../../product/src';
import userSubgraph from '../../user/src';
import orderSubgraph from '../src';
import { priceLines } from '../src/service/pricing';
import { TRANSITIONS } from '../src/service/status';
import { isCountryCode, requestHash, validateAddress, validatePlaceOrder } from '../src/service/validation';

const ADDRESS = {
  name: 'Ann',
  line1: '1 Main St',
  line2: null,
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};

describe('pricing', () => {
  it('rounds the discount half up per unit and keeps totals exact', () => {
    const p = priceLines(
      [
        { productId: 'a', quantity: 2, unitPrice: 1999, discountPercent: 20 },
        { productId: 'b', quantity: 3, unitPrice: 500, discountPercent: 0 },
        { productId: 'c', quantity: 1, unitPrice: 1, discountPercent: 50 },
      ],
      new Map([
        ['a', 'A'],
        ['b', 'B'],
        ['c', 'C'],
      ]),
    );
    expect(p.lines.map((l) => [l.unitDiscount, l.lineTotal, l.amountSaved])).toEqual([
      [400, 3198, 800],
      [0, 1500, 0],
      [1, 0, 1],
    ]);
    expect([p.subtotal, p.discountTotal, p.total]).toEqual([5499, 801, 4698]);
    expect(p.lines.reduce((s, l) => s + l.lineTotal, 0)).toBe(p.total);
  });
});

describe('validation', () => {
  it('accepts ISO-3166 alpha-2 codes only', () => {
    expect(['US', 'DE', 'FR', 'JP', 'GB'].every(isCountryCode)).toBe(true);
    expect(['XX', 'ZZ', 'EU', 'UN', 'QO', 'XK', 'us', 'USA', ''].some(isCountryCode)).toBe(false);
  });

  it('trims, upper-cases the country and names the offending field', () => {
    expect(validateAddress({ ...ADDRESS, city: '  Springfield ', country: 'de', line2: '  ' })).toEqual({
      ...ADDRESS,
      country: 'DE',
    });
    const fieldOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as { extensions: { code: string; field: string } }).extensions;
      }
      return null;
    };
    expect(fieldOf(() => validateAddress({ ...ADDRESS, postalCode: '1'.repeat(21) }))).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'shippingAddress.postalCode',
    });
    expect(
      fieldOf(() => validatePlaceOrder({ cartId: ' ', shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, 'k')),
    ).toMatchObject({ field: 'cartId' });
    expect(
      fieldOf(() => validatePlaceOrder({ cartId: 'c', shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, '')),
    ).toMatchObject({ field: 'idempotencyKey' });
  });

  it('hashes the request canonically (same input → same hash, any change → another)', () => {
    const a = validatePlaceOrder({ cartId: 'c', shippingAddress: ADDRESS, paymentToken: 'tok_visa' }, 'k');
    const b = validatePlaceOrder(
      { cartId: ' c ', shippingAddress: { ...ADDRESS, country: 'us' }, paymentToken: 'tok_visa' },
      'k',
    );
    expect(requestHash(a)).toBe(requestHash(b));
    expect(requestHash({ ...a, paymentToken: 'tok_chargeDeclined' })).not.toBe(requestHash(a));
    expect(requestHash({ ...a, shippingAddress: { ...a.shippingAddress, line2: 'Apt 1' } })).not.toBe(requestHash(a));
  });
});

describe('status transitions', () => {
  it('allow exactly the documented moves', () => {
    expect(TRANSITIONS).toEqual({
      PENDING: ['PAID', 'PAYMENT_FAILED', 'CANCELLED'],
      PAID: ['SHIPPED', 'CANCELLED'],
      SHIPPED: ['DELIVERED'],
      DELIVERED: [],
      CANCELLED: [],
      PAYMENT_FAILED: [],
    });
  });
});

describe('composition', () => {
  it('composes with the user, product, media and notification subgraphs', async () => {
    const modules = [userSubgraph, productSubgraph, mediaSubgraph, notification, orderSubgraph];
    const urls = Object.fromEntries(modules.map((m, i) => [m.name, `http://127.0.0.1:${4001 + i}/graphql`]));
    const { supergraphSdl, subgraphSdl } = await composeModules(modules, urls);
    expect(supergraphSdl).toContain('placeOrder');
    expect(subgraphSdl.order).toMatch(/type User\s+@key\(fields: "id"\)/);
    expect(subgraphSdl.order).toMatch(/type Product\s+@key\(fields: "id", resolvable: false\)/);
  });

  it('describes every type, field and argument of the order subgraph', async () => {
    const schema = await orderSubgraph.buildSchema();
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (
        type.name.startsWith('_') ||
        type.name.includes('__') ||
        ['String', 'Int', 'Float', 'Boolean', 'ID', 'Query', 'Mutation'].includes(type.name)
      )
        continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInputObjectType(type)) {
        for (const f of Object.values(type.getFields())) {
          if (f.name.startsWith('_')) continue;
          if (!f.description) missing.push(`${type.name}.${f.name}`);
          for (const a of 'args' in f ? f.args : [])
            if (!a.description) missing.push(`${type.name}.${f.name}(${a.name})`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

import { codes, fields, ok } from '../src/testing/responses';

const refused = {
  data: null,
  errors: [
    { message: 'bad', extensions: { code: 'BAD_USER_INPUT', field: 'sku' } },
    { message: 'nope', extensions: { code: 'FORBIDDEN' } },
  ],
};

describe('the response helpers of @shop/kernel/testing', () => {
  test('codes and fields list each error in order; none for a clean response', () => {
    expect(codes(refused)).toEqual(['BAD_USER_INPUT', 'FORBIDDEN']);
    expect(fields(refused)).toEqual(['sku', undefined]);
    expect(codes({ errors: [] })).toEqual([]);
    expect(fields({})).toEqual([]);
  });

  test('ok returns the data, and throws with the errors (or "no data")', () => {
    expect(ok({ data: { a: 1 } })).toEqual({ a: 1 });
    expect(() => ok(refused)).toThrow(/BAD_USER_INPUT/);
    expect(() => ok({ data: null })).toThrow('"no data"');
  });
});

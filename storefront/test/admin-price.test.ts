import { parsePrice, toDecimal } from '../src/admin/price';

describe('admin price input: decimals to integer minor units without float errors', () => {
  it.each([
    ['19.99', 1999],
    ['0.07', 7],
    ['0.29', 29],
    ['1.15', 115],
    ['4.35', 435],
    ['1.00', 100],
    ['5', 500],
    ['5.', 500],
    ['5.5', 550],
    ['1,299.50', 129950],
    [' 12.30 ', 1230],
    ['1000000.00', 100000000],
  ])('"%s" USD → %i', (text, cents) => {
    expect(parsePrice(text, 'USD')).toEqual({ ok: true, amount: cents });
  });

  it('every cent from 0.01 to 99.99 round-trips exactly (where * 100 in floats would not)', () => {
    for (let cents = 1; cents < 10000; cents++) {
      const text = toDecimal(cents, 'USD');
      expect(parsePrice(text, 'USD')).toEqual({ ok: true, amount: cents });
    }
    expect(Math.round(19.99 * 100) === 1999 && 19.99 * 100 !== 1999).toBe(true); // why strings are used
  });

  it('refuses what is not a price, with a sentence', () => {
    for (const text of ['', 'abc', '19.999', '-5', '1e3', '0', '0.00', '1000000.01', '12.3.4']) {
      const r = parsePrice(text, 'USD');
      expect(r.ok).toBe(false);
      expect(!r.ok && r.message).toMatch(/\w+.*\./);
    }
  });

  it('currencies without minor units (JPY) take whole amounts', () => {
    expect(parsePrice('1500', 'JPY')).toEqual({ ok: true, amount: 1500 });
    expect(parsePrice('15.5', 'JPY').ok).toBe(false);
    expect(toDecimal(1500, 'JPY')).toBe('1500');
    expect(toDecimal(1999, 'USD')).toBe('19.99');
    expect(toDecimal(7, 'USD')).toBe('0.07');
  });
});

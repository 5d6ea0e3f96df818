import { discountAmount, discountedPrice, formatMoney, money } from '../src/money';

describe('money', () => {
  test('formats minor units exactly for 2- and 0-digit currencies', () => {
    expect(formatMoney(1999, 'USD')).toBe('$19.99');
    expect(formatMoney(5, 'USD')).toBe('$0.05');
    expect(formatMoney(-123456, 'EUR')).toBe('-€1,234.56');
    expect(formatMoney(1500, 'JPY')).toBe('¥1,500');
    // A value that float division would render wrongly (0.1 + 0.2 style drift) stays exact.
    expect(formatMoney(900719925474099, 'USD')).toBe('$9,007,199,254,740.99');
  });

  test('discounts round half up per unit', () => {
    expect(discountAmount(1999, 20)).toBe(400); // 399.8
    expect(discountAmount(2, 25)).toBe(1); // 0.5 → up
    expect(discountAmount(1, 20)).toBe(0); // 0.2 → down
    expect(discountAmount(1234, 0)).toBe(0);
    expect(discountedPrice(1999, 20)).toBe(1599);
    expect(discountedPrice(2500, 20)).toBe(2000);
  });

  test('rejects non-integer amounts', () => {
    expect(() => money(19.99, 'USD')).toThrow(/integer/);
    expect(() => discountAmount(10.5, 20)).toThrow();
    expect(() => discountAmount(100, 101)).toThrow();
  });
});

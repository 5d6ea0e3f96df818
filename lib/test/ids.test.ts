import { randomUUID } from 'node:crypto';
import { isUuid } from '../src/ids';

describe('isUuid', () => {
  test('accepts the hyphenated textual form of any version and variant, either case', () => {
    const minted = randomUUID();
    expect(isUuid(minted)).toBe(true);
    expect(isUuid(minted.toUpperCase())).toBe(true);
    // Version 7 (time-ordered), version 1, nil and max (RFC 9562 §5.9, §5.10): all valid PostgreSQL `uuid` values.
    expect(isUuid('018f8e6e-4b1c-7d3a-9c2e-6f1a2b3c4d5e')).toBe(true);
    expect(isUuid('6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(true);
    expect(isUuid('00000000-0000-0000-0000-000000000000')).toBe(true);
    expect(isUuid('ffffffff-ffff-ffff-ffff-ffffffffffff')).toBe(true);
    // Ids imported from elsewhere need not carry the RFC variant bits: PostgreSQL stores them all the same.
    expect(isUuid('12345678-1234-0234-c234-123456789abc')).toBe(true);
  });

  test('refuses every other spelling and anything that is not a string', () => {
    const id = randomUUID();
    for (const v of [
      id.replace(/-/g, ''), // PostgreSQL would take it, but ids are compared as text: one spelling only
      `{${id}}`,
      `urn:uuid:${id}`,
      ` ${id}`,
      `${id}\n`,
      id.slice(0, -1),
      `${id}0`,
      id.replace(/[0-9a-f]/, 'g'),
      '-'.repeat(36),
      '',
      null,
      undefined,
      42,
      { toString: () => id },
      [id],
    ]) {
      expect(isUuid(v)).toBe(false);
    }
  });
});

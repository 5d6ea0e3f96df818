import { clientAddressKey } from '../src/net';

describe('clientAddressKey', () => {
  it('counts IPv4 per address, and an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(clientAddressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts IPv6 per /64: every address of one subscriber prefix shares a key, another prefix does not', () => {
    const a = clientAddressKey('2001:db8:1:2::1');
    expect(a).toBe('2001:db8:1:2::/64');
    expect(clientAddressKey('2001:db8:1:2:ffff:eeee:dddd:cccc')).toBe(a);
    expect(clientAddressKey('2001:0db8:0001:0002:0000:0000:0000:0009')).toBe(a);
    expect(clientAddressKey('2001:db8:1:3::1')).not.toBe(a);
    expect(clientAddressKey('fe80::1%eth0')).toBe('fe80::/64');
  });

  it('gives unknown for a missing or unparsable address', () => {
    expect(clientAddressKey(undefined)).toBe('unknown');
    expect(clientAddressKey('')).toBe('unknown');
    expect(clientAddressKey('not-an-ip')).toBe('unknown');
  });
});

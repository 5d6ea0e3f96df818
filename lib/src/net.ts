import ipaddr from 'ipaddr.js';

/**
 * The key under which a client address is counted by rate limits and per-address quotas.
 * IPv4 (and IPv4-mapped IPv6, `::ffff:1.2.3.4`) counts per address; IPv6 per /64, because one subscriber
 * usually gets a whole /64 and can pick a fresh address from it for every request. Unknown or unparsable → `unknown`.
 */
export function clientAddressKey(ip: string | undefined | null): string {
  if (!ip) return 'unknown';
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip.replace(/%.*$/, '')); // zone ids (`fe80::1%eth0`) never name another client
  } catch {
    return 'unknown';
  }
  if (addr.kind() === 'ipv4') return addr.toString();
  const bytes = (addr as ipaddr.IPv6).toByteArray().slice(0, 8).concat(new Array(8).fill(0));
  return `${ipaddr.fromByteArray(bytes).toString()}/64`;
}

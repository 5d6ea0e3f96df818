/** Container healthcheck (node:20-slim has no curl): `node dist/scripts/healthcheck.js <url>` exits 0 on HTTP 200. */
const url = process.argv[2];
if (!url) {
  console.error('usage: node dist/scripts/healthcheck.js <url>');
  process.exit(2);
}
fetch(url, { signal: AbortSignal.timeout(3000) }).then(
  (res) => process.exit(res.status === 200 ? 0 : 1),
  () => process.exit(1),
);

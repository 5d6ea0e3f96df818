import fs from 'node:fs';

/**
 * Debian's `prometheus` package (prometheus and promtool in /usr/bin; `.ci/run` installs it). Outside CI a test may
 * skip with a printed reason when it is missing; with CI=true a missing binary fails the test run instead.
 */
function binary(name: string, override: string | undefined): string | undefined {
  const candidates = override ? [override] : [`/usr/bin/${name}`, `/usr/local/bin/${name}`];
  const found = candidates.find((c) => fs.existsSync(c));
  if (found) return found;
  const reason = `${name} is not installed (${candidates.join(', ')}; Debian package \`prometheus\`, installed by .ci/run)`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${reason}`);
  console.warn(`SKIPPED (Prometheus tests): ${reason}`);
  return undefined;
}

export const prometheusOrSkip = () => binary('prometheus', process.env.PROMETHEUS_BIN);
export const promtoolOrSkip = () => binary('promtool', process.env.PROMTOOL_BIN);

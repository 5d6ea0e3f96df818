import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_GATEWAY_METRICS_PORT, DEFAULT_PORTS, SERVICE_NAMES } from '@shop/kernel';
import { promtoolOrSkip } from './prometheus-bin';

/**
 * deploy/prometheus and deploy/grafana are valid and agree with the processes: promtool accepts the scrape configs
 * and the alert rules and passes the rules' unit tests; prometheus.yml scrapes `npm start`'s ports and
 * prometheus.compose.yml the same jobs at the compose service names; Grafana is provisioned from deploy/grafana.
 */
const ROOT = path.resolve(__dirname, '../..');
const DIR = path.join(ROOT, 'deploy/prometheus');
const promtool = promtoolOrSkip();
const withPromtool = promtool ? test : test.skip;

withPromtool('promtool check rules / check config / test rules pass', () => {
  const run = (...args: string[]) => execFileSync(promtool!, args, { cwd: DIR, encoding: 'utf8' });
  expect(run('check', 'rules', 'alerts.yml')).toMatch(/SUCCESS: \d+ rules found/);
  expect(run('check', 'config', 'prometheus.yml')).toContain('is valid prometheus config file syntax');
  expect(run('check', 'config', 'prometheus.compose.yml')).toContain('is valid prometheus config file syntax');
  expect(run('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
});

type ScrapeConfig = { job_name: string; static_configs: { targets: string[] }[]; metrics_path?: string };
const read = (file: string) => parse(fs.readFileSync(file, 'utf8'), { merge: true });
const targets = (file: string) =>
  Object.fromEntries(
    (read(path.join(DIR, file)).scrape_configs as ScrapeConfig[]).map((c) => [
      c.job_name,
      c.static_configs.flatMap((s) => s.targets),
    ]),
  );

test("prometheus.yml scrapes every process of npm start's layout; the compose file the same jobs by service name", () => {
  const expected: Record<string, string[]> = { gateway: [`localhost:${DEFAULT_GATEWAY_METRICS_PORT}`] };
  for (const s of SERVICE_NAMES) expected[s] = [`localhost:${DEFAULT_PORTS[s]}`];
  expect(targets('prometheus.yml')).toEqual(expected);
  // Never the public port.
  expect(JSON.stringify(targets('prometheus.yml'))).not.toContain(`:${DEFAULT_PORTS.gateway}"`);
  const compose = Object.fromEntries(
    Object.entries(expected).map(([job, [t]]) => [job, [t.replace('localhost', job)]]),
  );
  expect(targets('prometheus.compose.yml')).toEqual(compose);
  const a = read(path.join(DIR, 'prometheus.yml'));
  const b = read(path.join(DIR, 'prometheus.compose.yml'));
  expect(b.rule_files).toEqual(a.rule_files);
  expect(b.global).toEqual(a.global);
});

test('docker-compose.yml runs prometheus and grafana provisioned from deploy/', () => {
  const compose = read(path.join(ROOT, 'docker-compose.yml'));
  const prom = compose.services.prometheus;
  expect(prom.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
  expect(prom.command).toContain('--config.file=/etc/prometheus/prometheus.compose.yml');
  const grafana = compose.services.grafana;
  expect(grafana.volumes).toEqual(
    expect.arrayContaining([
      './deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
      './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro',
    ]),
  );
  // The gateway's metrics port stays inside the compose network.
  expect(JSON.stringify(compose.services.gateway.ports ?? [])).not.toContain(String(DEFAULT_GATEWAY_METRICS_PORT));
  const datasource = read(path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'));
  expect(datasource.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  const provider = read(path.join(ROOT, 'deploy/grafana/provisioning/dashboards/shop.yml'));
  expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
  const dashboard = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/shop-overview.json'), 'utf8'),
  ) as { panels: { datasource?: { uid: string } }[] };
  for (const p of dashboard.panels.filter((p) => p.datasource))
    expect(p.datasource!.uid).toBe(datasource.datasources[0].uid);
});

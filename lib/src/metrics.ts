import client from 'prom-client';

/**
 * The process's Prometheus metrics (prom-client). One registry per process: every module declares its metrics with
 * the get-or-create helpers below, so services started side by side in one process (tests) share them instead of
 * failing on a second registration. Names follow Prometheus conventions: `shop_` prefix, unit suffix
 * (`_seconds`, `_bytes`), `_total` on counters, bounded label values.
 */
export const registry = new client.Registry();
export { client as prom };

export function counter<L extends string = string>(cfg: client.CounterConfiguration<L>): client.Counter<L> {
  return (
    (registry.getSingleMetric(cfg.name) as client.Counter<L> | undefined) ??
    new client.Counter<L>({ ...cfg, registers: [registry] })
  );
}

export function gauge<L extends string = string>(cfg: client.GaugeConfiguration<L>): client.Gauge<L> {
  return (
    (registry.getSingleMetric(cfg.name) as client.Gauge<L> | undefined) ??
    new client.Gauge<L>({ ...cfg, registers: [registry] })
  );
}

export function histogram<L extends string = string>(cfg: client.HistogramConfiguration<L>): client.Histogram<L> {
  return (
    (registry.getSingleMetric(cfg.name) as client.Histogram<L> | undefined) ??
    new client.Histogram<L>({ ...cfg, registers: [registry] })
  );
}

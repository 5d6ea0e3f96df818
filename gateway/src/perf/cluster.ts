import cluster from 'node:cluster';
import { SHUTDOWN_BACKSTOP_MS, ShutdownConfig } from '@shop/kernel';
import { gatewayWorkers } from '../starting';

/** The primary's message asking a worker to shut down gracefully (a signal could be taken for a second one). */
const SHUTDOWN_MESSAGE = 'shop:shutdown';

/**
 * GATEWAY_WORKERS > 1 (0 = one per core): the primary process forks that many workers, which all serve the same
 * port (node:cluster hands connections to them), restarts a worker that dies, and on SIGINT/SIGTERM asks each to shut
 * down gracefully (not ready, the readiness delay, drain: kernel shutdown.ts), then exits 0 once all have exited 0
 * (1 when one did not, or when they outlast the delay + grace). A second signal kills the workers at once.
 * Returns true in the primary (which must not start a gateway itself); false in a worker or without a cluster.
 */
export function startCluster(requested: number, shutdown: ShutdownConfig, log: (msg: string) => void): boolean {
  const workers = gatewayWorkers(requested);
  if (workers <= 1 || !cluster.isPrimary) return false;
  let stopping = false;
  let failed = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  // Node closes the shared listening socket when its last listening worker dies, so "serving" means a worker listens.
  cluster.on('listening', (worker, address) =>
    log(`gateway worker ${worker.process.pid} listening on port ${address.port}`),
  );
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (code !== 0) failed = true;
      return;
    }
    log(`gateway worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    fork();
  });
  let stoppedAt = 0;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A terminal's Ctrl-C reaches every process of the group at once; a deliberate second one comes later.
      if (Date.now() - stoppedAt < 1000) return;
      log(`second ${signal}: killing the workers`);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    stoppedAt = Date.now();
    log(`${signal}: asking the workers to shut down`);
    for (const w of Object.values(cluster.workers ?? {})) if (w?.isConnected()) w.send(SHUTDOWN_MESSAGE);
    const done = () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(failed ? 1 : 0);
    cluster.on('exit', done);
    done();
    setTimeout(
      () => {
        log('gateway workers did not stop within the shutdown delay and grace; exiting');
        process.exit(1);
      },
      shutdown.delayMs + shutdown.graceMs + SHUTDOWN_BACKSTOP_MS + 1000,
    ).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  log(`gateway primary ${process.pid}: ${workers} workers`);
  return true;
}

/** In a worker: `shutdown` runs when the primary asks for it. */
export function onPrimaryShutdown(shutdown: () => void): void {
  process.on('message', (m) => {
    if (m === SHUTDOWN_MESSAGE) shutdown();
  });
}

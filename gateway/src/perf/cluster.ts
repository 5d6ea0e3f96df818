import cluster from 'node:cluster';
import os from 'node:os';

/**
 * GATEWAY_WORKERS > 1 (0 = one per core): the primary process forks that many workers, which all serve the same
 * port (node:cluster hands connections to them), restarts a worker that dies, and stops them all on SIGINT/SIGTERM.
 * Returns true in the primary (which must not start a gateway itself); false in a worker or without a cluster.
 */
export function startCluster(requested: number, log: (msg: string) => void): boolean {
  const workers = requested === 0 ? os.availableParallelism() : requested;
  if (workers <= 1 || !cluster.isPrimary) return false;
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log(`gateway worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    fork();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    const done = () => Object.keys(cluster.workers ?? {}).length === 0 && process.exit(0);
    cluster.on('exit', done);
    done();
    setTimeout(() => process.exit(1), 15_000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log(`gateway primary ${process.pid}: ${workers} workers`);
  return true;
}

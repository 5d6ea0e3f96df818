import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './harness';

/**
 * A PostgreSQL cluster of a test's own (initdb into a temp dir, trust auth, a free port) that the test may stop
 * and start again keeping its data — fault tests must never stop the machine's shared server.
 * PostgreSQL refuses to run as root: when the tests run as root the cluster belongs to the `postgres` system user.
 */
export interface PrivatePostgres {
  /** Server URL with the database name `db` (POSTGRES_URL takes the database name as the prefix). */
  url(db: string): string;
  port: number;
  /** Fast shutdown: open connections are cut, as in a crash of the connections' point of view. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and deletes the data directory. */
  dispose(): Promise<void>;
}

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const [uid, gid] = ['-u', '-g'].map((f) => Number(execFileSync('id', [f, 'postgres']).toString().trim()));
    owner = { uid, gid };
    chownSync(dir, uid, gid);
  }
  const run = (bin: string, args: string[]) => {
    const r = spawnSync(join(PG_BIN, bin), args, { cwd: dir, ...(owner ?? {}), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  writeFileSync(
    join(data, 'postgresql.auto.conf'),
    `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = off\nmax_connections = 200\n`,
  );
  if (owner) chownSync(join(data, 'postgresql.auto.conf'), owner.uid, owner.gid);
  let running = false;
  const start = async () => {
    if (running) return;
    run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    running = false;
  };
  await start();
  return {
    url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    port,
    start,
    stop,
    async dispose() {
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * npm start: the development runner. Checks PostgreSQL, Redis and NATS; makes sure the development keys exist;
 * applies migrations; starts every subgraph (registry order, each ready before the next) and then the gateway
 * as child processes with prefixed output; prints the URLs once everything answers; stops everything on
 * Ctrl-C / SIGTERM or as soon as one process dies.
 *
 *   npm start              pino lines shown as "HH:MM:SS LEVEL msg {fields}"
 *   npm start -- --json    pino lines shown as-is
 *
 * START_TIMEOUT_SECONDS (default 60): how long each process may take to become ready.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Config, loadConfig, loadKeys, createLogger, SHUTDOWN_BACKSTOP_MS } from '@shop/kernel';
import { checkSchemas } from './lib/compose';
import { lineSplitter, makePrefix, painter, prettyLine, useColor } from './lib/logs';
import { describeMigration, runMigrations } from './lib/migrate';
import { seedDemo } from './lib/seed';
import { readRoverConfig } from './lib/rover';
import { checkDependencies, dependencies, portsInUse } from './lib/services';
import { ROOT, ROVER_FILE, SUPERGRAPH_FILE } from './paths';
import { subgraphs } from './subgraphs';

const rawLogs = process.argv.includes('--json');
const paint = painter(useColor(process.stdout));
const NAMES = ['start', 'migrate', ...subgraphs.map((s) => s.name), 'gateway'];
const WIDTH = Math.max(...NAMES.map((n) => n.length));
const startPrefix = paint(1, '[start]'.padEnd(WIDTH + 2));

function say(msg: string): void {
  console.log(`${startPrefix} ${msg}`);
}
function fail(msg: string): never {
  console.error(`${startPrefix} ${paint(31, msg)}`);
  process.exit(1);
}

interface Child {
  name: string;
  proc: ChildProcess;
  done: boolean;
  closed: Promise<void>;
}

const children: Child[] = [];
let shuttingDown = false;
let firstSignalAt = 0;
/** How long a process may take to stop after SIGTERM (its readiness delay and grace, plus the margin it keeps). */
let stopTimeoutMs = 30_000;

function spawnChild(name: string, index: number, script: string, env: NodeJS.ProcessEnv): Child {
  const file = path.join(ROOT, script);
  if (!fs.existsSync(file)) {
    fail(`${script} does not exist: run \`npm run build\` (npm start does) and check that ${name} has src/main.ts`);
  }
  const prefix = makePrefix(name, index, WIDTH, paint);
  // Own process group: a terminal Ctrl-C reaches only this runner, which then stops the children exactly once.
  const proc = spawn(process.execPath, [file], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const write = (stream: NodeJS.WriteStream) => (line: string) => {
    for (const l of rawLogs ? [line] : prettyLine(line, paint)) stream.write(`${prefix} ${l}\n`);
  };
  const out = lineSplitter(write(process.stdout));
  const err = lineSplitter(write(process.stderr));
  proc.stdout!.on('data', (c: Buffer) => out.push(c));
  proc.stderr!.on('data', (c: Buffer) => err.push(c));
  const child: Child = { name, proc, done: false, closed: Promise.resolve() };
  child.closed = new Promise<void>((resolve) => {
    proc.once('error', (e) => {
      console.error(`${prefix} ${paint(31, `could not be started: ${e.message}`)}`);
      child.done = true;
      resolve();
      void shutdown(1);
    });
    proc.once('close', (code, signal) => {
      out.end();
      err.end();
      child.done = true;
      resolve();
      if (!shuttingDown) {
        console.error(
          `${prefix} ${paint(31, `exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}); stopping everything`)}`,
        );
        void shutdown(1);
      }
    });
  });
  children.push(child);
  return child;
}

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  const alive = children.filter((c) => !c.done).reverse();
  if (alive.length) say(`stopping ${alive.map((c) => c.name).join(', ')}`);
  for (const c of alive) c.proc.kill('SIGTERM');
  let forced = false;
  const timer = setTimeout(() => {
    for (const c of alive) {
      if (!c.done) {
        forced = true;
        say(`${c.name} did not stop within ${Math.round(stopTimeoutMs / 1000)} s; killing it`);
        c.proc.kill('SIGKILL');
      }
    }
  }, stopTimeoutMs);
  await Promise.all(alive.map((c) => c.closed));
  clearTimeout(timer);
  process.exit(forced && code === 0 ? 1 : code);
}

function onSignal(signal: NodeJS.Signals): void {
  if (!shuttingDown) {
    firstSignalAt = Date.now();
    say(`${signal} received`);
    void shutdown(0);
  } else if (Date.now() - firstSignalAt > 1000) {
    // A second, deliberate Ctrl-C (npm may forward the first one a second time, hence the grace period).
    say('killing every process now');
    for (const c of children) if (!c.done) c.proc.kill('SIGKILL');
    process.exit(130);
  }
}

function reason(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Polls `url` until it answers 200. False when the child died or we are shutting down meanwhile. */
async function waitUntilReady(child: Child, url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (child.done || shuttingDown) return false;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return true;
      last = `HTTP ${res.status} ${(await res.text()).replace(/\s+/g, ' ').slice(0, 400)}`;
    } catch (err) {
      last = reason(err);
    }
    if (Date.now() > deadline) {
      console.error(
        `${startPrefix} ${paint(31, `${child.name} is not ready after ${Math.round(timeoutMs / 1000)} s: GET ${url} -> ${last}`)}`,
      );
      void shutdown(1);
      return false;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    fail((err as Error).message);
  }
  stopTimeoutMs = config.shutdown.delayMs + config.shutdown.graceMs + SHUTDOWN_BACKSTOP_MS;
  const timeoutSeconds = config.startTimeoutSeconds;
  const supergraph = config.supergraphFile ? path.resolve(config.supergraphFile) : SUPERGRAPH_FILE;
  if (!fs.existsSync(supergraph)) {
    fail(
      `${supergraph.startsWith(ROOT) ? path.relative(ROOT, supergraph) : supergraph} is missing; the gateway serves it: run \`npm run compose\` first`,
    );
  }

  // (a) Backing services, all at once, one line per unreachable one.
  const down = await checkDependencies(dependencies(config));
  if (down.length) {
    for (const line of down) console.error(`${startPrefix} ${paint(31, line)}`);
    process.exit(1);
  }
  const ports = [
    { port: config.gatewayPort, variable: 'GATEWAY_PORT' },
    ...subgraphs.map((s) => ({ port: config.ports[s.name], variable: `${s.name.toUpperCase()}_PORT` })),
    ...(!config.smtp.host && !config.isProduction
      ? [{ port: config.devMailPort, variable: 'DEV_MAIL_PORT', host: '127.0.0.1' }]
      : []),
  ];
  const busy = await portsInUse(ports);
  if (busy.length) {
    for (const line of busy) console.error(`${startPrefix} ${paint(31, line)}`);
    process.exit(1);
  }

  // (b) Development keys, generated once here so the children never race to create them.
  loadKeys(config);
  if (!config.isProduction)
    say(
      `signing keys: ${path.relative(ROOT, path.resolve(config.keysDir)) || '.'}/ (generated on first run; set JWT_* to use your own)`,
    );

  // A stale schema/ is worth a warning: the gateway serves the checked-in supergraph, not the code.
  try {
    const check = await checkSchemas(
      { rover: readRoverConfig(ROVER_FILE), modules: subgraphs, supergraphFile: SUPERGRAPH_FILE },
      ROOT,
    );
    for (const m of check.messages) say(paint(33, `warning: ${m}`));
  } catch (err) {
    say(paint(33, `warning: could not check schema/: ${(err as Error).message}`));
  }

  // (c) Migrations, in this process, before any subgraph starts.
  const migratePrefix = makePrefix('migrate', 1, WIDTH, paint);
  try {
    await runMigrations(subgraphs, config, createLogger('migrate', 'warn'), (r) =>
      console.log(`${migratePrefix} ${describeMigration(r)}`),
    );
  } catch (err) {
    fail((err as Error).message);
  }

  // (c') A fresh installation gets the demo catalog, so the storefront has something to show.
  try {
    const seeded = await seedDemo(config, createLogger('seed', 'warn'), { products: 60 });
    if (!seeded.skipped)
      console.log(`${migratePrefix} seeded the demo catalog: ${seeded.products} products, ${seeded.images} images`);
  } catch (err) {
    fail(`seeding the demo catalog failed: ${(err as Error).message}`);
  }

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    for (const c of children) if (!c.done) c.proc.kill('SIGKILL');
  });

  // (d) + (e) Subgraphs one by one, then the gateway.
  const timeoutMs = timeoutSeconds * 1000;
  const env = { ...process.env };
  for (const [i, s] of subgraphs.entries()) {
    const child = spawnChild(s.name, i + 2, `dist/subgraphs/${s.name}/src/main.js`, env);
    if (!(await waitUntilReady(child, `http://127.0.0.1:${config.ports[s.name]}/ready`, timeoutMs))) return;
  }
  // The supergraph routes to rover.yaml's URLs; tell the gateway where the subgraphs really listen.
  const gatewayEnv = { ...env };
  for (const s of subgraphs) {
    gatewayEnv[`${s.name.toUpperCase()}_SUBGRAPH_URL`] ??= `http://127.0.0.1:${config.ports[s.name]}/graphql`;
  }
  const gateway = spawnChild('gateway', subgraphs.length + 2, 'dist/gateway/src/main.js', gatewayEnv);
  if (!(await waitUntilReady(gateway, `http://127.0.0.1:${config.gatewayPort}/health`, timeoutMs))) return;

  // PUBLIC_URL may name another origin (`npm run dev:storefront` points it at Vite); the gateway's own is this one.
  const gatewayOrigin = `http://localhost:${config.gatewayPort}`;
  const lines = [
    `ready: ${subgraphs.map((s) => `${s.name} :${config.ports[s.name]}`).join(', ')}, gateway :${config.gatewayPort}`,
  ];
  const storefrontDir = config.storefrontDir ?? path.join(ROOT, 'storefront', 'dist');
  if (storefrontDir !== 'off' && fs.existsSync(path.join(storefrontDir, 'index.html')))
    lines.push(`Storefront:         ${paint(1, `${gatewayOrigin}/`)}`);
  lines.push(`Sandbox (GraphQL):  ${paint(1, `${gatewayOrigin}/graphql`)}`);
  if (!config.smtp.host && !config.isProduction)
    lines.push(`Dev mailbox:        ${paint(1, `${gatewayOrigin}/dev/mail`)}`);
  lines.push('Ctrl-C stops everything.');
  for (const l of lines) say(paint(32, l));
}

main().catch((err) => {
  console.error(`${startPrefix} ${paint(31, (err as Error).stack ?? String(err))}`);
  void shutdown(1).then(() => process.exit(1));
});

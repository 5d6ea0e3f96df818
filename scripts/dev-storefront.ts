/**
 * npm run dev:storefront: the whole system as `npm start` runs it, plus Vite's dev server for the storefront on its own
 * origin (http://localhost:5173, hot reload) calling the gateway across origins — CORS and cookie sessions as a
 * storefront on another host would use them. PUBLIC_URL is the Vite origin, so emailed links (verify, reset) open the
 * dev server; Vite proxies `/media` (image URLs and signed uploads are built on PUBLIC_URL) to the gateway.
 */
import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '@shop/kernel';
import { ROOT } from './paths';

const VITE_ORIGIN = 'http://localhost:5173';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): ChildProcess {
  return spawn(cmd, args, { cwd, env, stdio: 'inherit' });
}

function main(): void {
  const config = loadConfig();
  const gatewayOrigin = `http://localhost:${config.gatewayPort}`;
  const env = { ...process.env, PUBLIC_URL: process.env.PUBLIC_URL ?? VITE_ORIGIN };
  // The gateway's own copy of the storefront would be a second, stale one: Vite serves it here.
  const stack = run(process.execPath, [path.join(ROOT, 'dist', 'scripts', 'start.js')], {
    ...env,
    STOREFRONT_DIR: 'off',
  });
  const vite = run(
    process.execPath,
    [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js')],
    { ...env, VITE_GATEWAY_URL: gatewayOrigin },
    path.join(ROOT, 'storefront'),
  );
  console.log(`[dev:storefront] storefront (Vite): ${VITE_ORIGIN}/ → gateway ${gatewayOrigin}/graphql`);
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const c of [vite, stack]) if (c.exitCode === null) c.kill('SIGTERM');
    setTimeout(() => process.exit(code), 10_000).unref();
    Promise.all([vite, stack].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r))))).then(
      () => process.exit(code),
      () => process.exit(code),
    );
  };
  stack.once('exit', (code) => stop(code ?? 1));
  vite.once('exit', (code) => stop(code ?? 1));
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
}

main();

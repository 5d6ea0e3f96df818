/** Child processes of the benchmark: started with their output in bench/.data/logs, stopped by their own pid. */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DATA_DIR } from './env';

export interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  stop(): Promise<void>;
}

export function startProc(name: string, args: string[], env: Record<string, string>, cwd: string): Proc {
  const dir = path.join(DATA_DIR, 'logs');
  fs.mkdirSync(dir, { recursive: true });
  const log = path.join(dir, `${name}.log`);
  const out = fs.openSync(log, 'w');
  const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = false;
  const closed = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  return {
    name,
    child,
    log,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await closed;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 200; fails with the tail of the process's log when it dies or times out. */
export async function waitReady(proc: Proc, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${proc.name} exited:\n${tail(proc.log)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready at ${url}:\n${tail(proc.log)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

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
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  let exited = false;
  const closed = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
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
    if (proc.child.exitCode !== null || proc.child.signalCode !== null)
      throw new Error(`${proc.name} exited:\n${tail(proc.log)}`);
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

/** A process and its descendants (cluster workers, Hive's forks). */
export function withDescendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Busy and total CPU seconds of the whole machine, all cores (/proc/stat: idle and iowait count as not busy). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = cpu[3] + cpu[4];
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/** CPU seconds (user + system) the processes have used so far; 0 for processes that are gone or off Linux. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      ticks += cpuTicks(`/proc/${pid}/stat`);
    } catch {
      /* gone */
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** User + system clock ticks of a `/proc/…/stat` file (a process's or a thread's); throws when it is gone. */
function cpuTicks(statFile: string): number {
  const stat = fs.readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU seconds (user + system) so far of a Node process's threads other than its main one: V8's helpers (optimizing
 * compiler, concurrent marking, parallel scavenges) and libuv's pool. NaN where /proc/<pid>/task cannot be read.
 */
export function helperCpuSeconds(pid: number): number {
  let ticks = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      if (Number(tid) === pid) continue;
      try {
        ticks += cpuTicks(`/proc/${pid}/task/${tid}/stat`);
      } catch {
        /* a thread that ended: its time is in the process's figure only */
      }
    }
  } catch {
    return NaN;
  }
  return ticks / TICKS_PER_SECOND;
}

/**
 * Write system calls so far (`syscw` of /proc/<pid>/io: write and writev, every socket write to PostgreSQL, NATS,
 * Redis, SMTP or a client among them), summed over `pids`; NaN where /proc/<pid>/io cannot be read.
 */
export function writeCalls(pids: number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      n += Number(/^syscw:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
    } catch {
      return NaN;
    }
  }
  return n;
}

/** Pids of every process whose name (/proc/<pid>/comm) is one of `names`: the servers the services share. */
export function pidsNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** The whole machine's busy CPU seconds so far (/proc/stat: every CPU's time but idle and iowait), and its steal. */
export function machineSeconds(): { busy: number; steal: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return { busy: (user + nice + system + irq + softirq) / TICKS_PER_SECOND, steal: (steal ?? 0) / TICKS_PER_SECOND };
}

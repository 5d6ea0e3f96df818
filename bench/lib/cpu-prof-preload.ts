/**
 * Preloaded with `--require` (NODE_OPTIONS does not accept `--cpu-prof`): profiles the whole process with the inspector
 * and writes `<CPU_PROF_DIR>/<script>-<pid>.cpuprofile` when it exits (open it in Chrome DevTools or speedscope).
 * SIGUSR2 starts the profile afresh (what came before is dropped): the checkout bench sends it just before its measured
 * checkouts, so that the profile holds them, not the start-up, the warm-up and the setup.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.CPU_PROF_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop', () => session.post('Profiler.start'));
  });
  process.on('exit', () => {
    // Same-thread session: the reply comes synchronously, before the process ends.
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      fs.mkdirSync(dir, { recursive: true });
      const name = path.basename(path.dirname(path.dirname(process.argv[1] ?? 'node'))) || 'node';
      fs.writeFileSync(path.join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}

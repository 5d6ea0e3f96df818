import net from 'node:net';
import { loadConfig } from '@shop/kernel';
import { freePort } from '@shop/kernel/testing';
import { lineSplitter, makePrefix, painter, prettyLine } from '../lib/logs';
import { checkDependencies, dependencies, portsInUse } from '../lib/services';

const plain = painter(false);

describe('npm start: dependency checks', () => {
  it('passes against the services this machine runs', async () => {
    const config = loadConfig({
      POSTGRES_URL: process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/shop',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    });
    await expect(checkDependencies(dependencies(config))).resolves.toEqual([]);
  });

  it('prints one line per unreachable service naming the variable and the compose service', async () => {
    const closed = await freePort();
    const config = loadConfig({
      POSTGRES_URL: `postgres://postgres:secret@127.0.0.1:${closed}/shop`,
      REDIS_URL: `redis://127.0.0.1:${closed}`,
      NATS_URL: `nats://127.0.0.1:${closed}`,
    });
    const lines = await checkDependencies(dependencies(config), 800);
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^PostgreSQL is not reachable at 127\\.0\\.0\\.1:${closed} \\(.*ECONNREFUSED.*\\): set POSTGRES_URL .*\`docker compose up -d postgres\`$`,
        ),
      ),
      expect.stringMatching(/^Redis is not reachable .*ECONNREFUSED.*set REDIS_URL .*`docker compose up -d redis`$/),
      expect.stringMatching(/^NATS is not reachable .*set NATS_URL .*`docker compose up -d nats`$/),
    ]);
    expect(lines.join('\n')).not.toContain('secret');
  });

  it('names a port that is already taken and its variable', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '0.0.0.0', () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    try {
      expect(await portsInUse([{ port, variable: 'USER_PORT' }])).toEqual([
        expect.stringMatching(new RegExp(`^port ${port} \\(USER_PORT\\) is already in use`)),
      ]);
    } finally {
      srv.close();
    }
  });
});

describe('npm start: output', () => {
  it('pads the prefix to the longest name', () => {
    expect(makePrefix('user', 0, 12, plain)).toBe('[user]'.padEnd(14));
  });

  it('shortens pino lines to time, level, message and the remaining fields, with the error stack', () => {
    const line = JSON.stringify({
      level: 50,
      time: '2026-11-22T10:11:12.345Z',
      service: 'user',
      pid: 1,
      msg: 'boom',
      port: 4001,
      err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f' },
    });
    expect(prettyLine(line, plain)).toEqual(['10:11:12 ERROR boom {"port":4001}', '    Error: x', '        at f']);
    expect(
      prettyLine(JSON.stringify({ level: 30, time: '2026-11-22T10:11:12.345Z', msg: 'loaded.\n\t* Mode: x' }), plain),
    ).toEqual(['10:11:12 INFO  loaded.', '    * Mode: x']);
    expect(prettyLine('plain text', plain)).toEqual(['plain text']);
    expect(prettyLine('{"not":"pino"}', plain)).toEqual(['{"not":"pino"}']);
  });

  it('splits chunks into lines, keeping partial lines until complete', () => {
    const lines: string[] = [];
    const s = lineSplitter((l) => lines.push(l));
    s.push('a\nb');
    s.push('c\r\nd');
    s.end();
    expect(lines).toEqual(['a', 'bc', 'd']);
  });
});

import { Client } from 'pg';
import Redis from 'ioredis';
import { startPrivatePostgres, startPrivateRedis } from '@shop/kernel/testing';

/** The private servers the fault suite restarts: PostgreSQL keeps its data across a restart, Redis keeps nothing. */
test('private PostgreSQL: stop refuses connections, start serves the same data again', async () => {
  const pg = await startPrivatePostgres();
  try {
    const c = new Client({ connectionString: pg.url('postgres') });
    await c.connect();
    await c.query('CREATE TABLE kept (n int)');
    await c.query('INSERT INTO kept VALUES (42)');
    await c.end();
    await pg.stop();
    await expect(new Client({ connectionString: pg.url('postgres') }).connect()).rejects.toThrow();
    await pg.start();
    const d = new Client({ connectionString: pg.url('postgres') });
    await d.connect();
    expect((await d.query('SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
    await d.end();
  } finally {
    await pg.dispose();
  }
});

test('private Redis: a restart keeps nothing', async () => {
  const r = await startPrivateRedis();
  const client = new Redis(r.url, { maxRetriesPerRequest: 1 });
  try {
    await client.set('k', 'v');
    await r.stop();
    await r.start();
    let value: string | null = 'unread';
    for (let i = 0; i < 50 && value === 'unread'; i++) value = await client.get('k').catch(() => 'unread');
    expect(value).toBeNull();
  } finally {
    client.disconnect();
    await r.dispose();
  }
});

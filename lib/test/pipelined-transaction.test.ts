import type { MikroORM } from '@mikro-orm/postgresql';
import { createOrm, executePrepared, migrate, pgArray, pipelinedTransaction } from '../src';
import { createTestEnv, TestEnv } from '../src/testing';

/**
 * The kernel's pipelined transaction: statements of one transaction sent as few round trips as possible (BEGIN with
 * the first batch, COMMIT with the last), all or nothing. Round trips are counted from MikroORM's query log (one
 * line per query sent); the state is read back from the database.
 */
let env: TestEnv;
let orm: MikroORM;
let sent: string[] = [];
beforeAll(async () => {
  env = await createTestEnv();
  orm = await createOrm({
    config: env.config,
    service: 'user',
    entities: [],
    migrations: [],
    poolMax: 2,
    onQuery: (line) => void (line.includes('[query]') && sent.push(line)),
  });
  await migrate(orm);
  await orm.em.getConnection().execute(`CREATE TABLE pipelined (id int PRIMARY KEY, n int NOT NULL CHECK (n >= 0))`);
});
afterAll(async () => {
  await orm?.close();
  await env?.cleanup();
});
beforeEach(async () => {
  await orm.em.getConnection().execute(`TRUNCATE pipelined`);
  sent = [];
});

const rows = async () =>
  (await orm.em.getConnection().execute<{ id: number; n: number }[]>(`SELECT id, n FROM pipelined ORDER BY id`)).map(
    (r) => [r.id, r.n],
  );

test('BEGIN travels with the first batch and COMMIT with the last: two round trips, each statement its own rows', async () => {
  const result = await pipelinedTransaction(orm, async (tx) => {
    const [inserted, counted] = await tx.send(
      { text: `INSERT INTO pipelined VALUES (?, ?), (?, ?) RETURNING id`, params: [1, 5, 2, 7] },
      { text: `SELECT count(*)::int AS c FROM pipelined` },
    );
    const [updated] = await tx.commit({
      text: `UPDATE pipelined SET n = n - ? WHERE id = ? RETURNING n`,
      params: [2, 1],
    });
    return { inserted, counted, updated };
  });
  expect(result).toEqual({ inserted: [{ id: 1 }, { id: 2 }], counted: [{ c: 2 }], updated: [{ n: 3 }] });
  expect(sent).toHaveLength(2);
  expect(sent[0]).toMatch(/BEGIN;\s*INSERT INTO pipelined/);
  expect(sent[1]).toMatch(/UPDATE pipelined .*;\s*COMMIT/s);
  sent = [];
  expect(await rows()).toEqual([
    [1, 3],
    [2, 7],
  ]);
});

test('values are quoted into the text as MikroORM quotes them: a quote in a value stays a value', async () => {
  const evil = `x'); DROP TABLE pipelined; --`;
  const [[row]] = await pipelinedTransaction(orm, (tx) =>
    tx.commit({ text: `SELECT ?::text AS v, length(?) AS len`, params: [evil, evil] }),
  );
  expect(row).toEqual({ v: evil, len: evil.length });
  expect(await rows()).toEqual([]);
});

test('a statement that fails in the COMMIT batch leaves nothing of the transaction, and the error is MikroORM’s', async () => {
  await expect(
    pipelinedTransaction(orm, async (tx) => {
      await tx.send({ text: `INSERT INTO pipelined VALUES (1, 1)` });
      // Below 0: the CHECK fails this statement, and COMMIT after it in the same batch never runs.
      await tx.commit({ text: `INSERT INTO pipelined VALUES (2, 2)` }, { text: `UPDATE pipelined SET n = n - 5` });
    }),
  ).rejects.toMatchObject({ name: 'CheckConstraintViolationException' });
  expect(await rows()).toEqual([]);
});

test('a refusal thrown between batches rolls back what the first batch wrote', async () => {
  await expect(
    pipelinedTransaction(orm, async (tx) => {
      await tx.send({ text: `INSERT INTO pipelined VALUES (1, 1)` });
      throw new Error('refused');
    }),
  ).rejects.toThrow('refused');
  expect(sent.at(-1)).toMatch(/ROLLBACK/);
  expect(await rows()).toEqual([]);
});

test('returning without commit commits; the connection goes back to the pool usable (more transactions than the pool holds)', async () => {
  for (let i = 1; i <= 5; i++)
    await pipelinedTransaction(orm, async (tx) => {
      await tx.send({ text: `INSERT INTO pipelined VALUES (?, ?)`, params: [i, i] });
    });
  // A failed one in between must not leave its connection inside an aborted transaction.
  await expect(
    pipelinedTransaction(orm, (tx) => tx.send({ text: `INSERT INTO pipelined VALUES (1, 1)` })),
  ).rejects.toMatchObject({ name: 'UniqueConstraintViolationException' });
  const all = await Promise.all(
    [6, 7, 8].map((i) =>
      pipelinedTransaction(orm, (tx) =>
        tx.commit({ text: `INSERT INTO pipelined VALUES (?, 0) RETURNING id`, params: [i] }),
      ),
    ),
  );
  expect(all.map(([[r]]) => r.id)).toEqual([6, 7, 8]);
  expect((await rows()).map(([id]) => id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
});

test('two transactions on the same row at once: the second waits for the first lock and sees its commit', async () => {
  await orm.em.getConnection().execute(`INSERT INTO pipelined VALUES (1, 1)`);
  // Both decrement only if the row still has a unit: exactly one may win.
  const take = () =>
    pipelinedTransaction(orm, async (tx) => {
      const [[row]] = await tx.send({ text: `SELECT n FROM pipelined WHERE id = 1 FOR UPDATE` });
      if ((row.n as number) < 1) return false;
      await tx.commit({ text: `UPDATE pipelined SET n = n - 1 WHERE id = 1` });
      return true;
    });
  const won = await Promise.all([take(), take()]);
  expect(won.filter(Boolean)).toHaveLength(1);
  expect(await rows()).toEqual([[1, 0]]);
});

test('a connection lost mid-transaction is not lent out again: the next transactions get working ones', async () => {
  const killer = orm.em.fork().getConnection();
  await expect(
    pipelinedTransaction(orm, async (tx) => {
      const [[{ pid }]] = await tx.send({ text: `SELECT pg_backend_pid() AS pid` });
      await killer.execute(`SELECT pg_terminate_backend(?)`, [pid]);
      await tx.send({ text: `SELECT 1` });
    }),
  ).rejects.toThrow();
  // More transactions than the pool holds, each on a live connection.
  for (let i = 1; i <= 3; i++)
    await pipelinedTransaction(orm, (tx) => tx.commit({ text: `INSERT INTO pipelined VALUES (?, 0)`, params: [i] }));
  expect((await rows()).map(([id]) => id)).toEqual([1, 2, 3]);
});

describe('prepared statements (SqlStatement.prepare): parsed and planned once per connection, then only executed', () => {
  const insert = { text: `INSERT INTO pipelined SELECT unnest(?::int[]), ? RETURNING id`, prepare: true };
  const prepares = () => sent.filter((l) => /PREPARE pp_/.test(l)).length;

  test('the same rows as unprepared; PREPARE at most once per pooled connection, whatever the list length', async () => {
    const results = [];
    for (let i = 0; i < 6; i++)
      results.push(
        await pipelinedTransaction(orm, (tx) =>
          tx.commit({ ...insert, params: [pgArray(Array.from({ length: i + 1 }, (_, k) => i * 10 + k)), i] }),
        ),
      );
    expect(results.map(([r]) => r.length)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sent.filter((l) => /EXECUTE pp_/.test(l))).toHaveLength(6);
    // The pool holds 2 connections: one PREPARE each at most.
    expect(prepares()).toBeGreaterThanOrEqual(1);
    expect(prepares()).toBeLessThanOrEqual(2);
    expect((await rows()).filter(([, n]) => n === 5)).toHaveLength(6);
  });

  test('planned generically: SET LOCAL once per transaction, and the connection is back to its own setting after', async () => {
    const mode = { text: `SELECT current_setting('plan_cache_mode') AS mode`, prepare: true };
    const [first, second] = await pipelinedTransaction(orm, async (tx) => [
      ...(await tx.send(mode)),
      ...(await tx.commit(mode)),
    ]);
    expect([first, second]).toEqual([[{ mode: 'force_generic_plan' }], [{ mode: 'force_generic_plan' }]]);
    expect(sent.filter((l) => /SET LOCAL plan_cache_mode/.test(l))).toHaveLength(1);
    const after = await Promise.all(
      [1, 2, 3].map(() =>
        pipelinedTransaction(orm, (tx) => tx.commit({ text: `SELECT current_setting('plan_cache_mode') AS mode` })),
      ),
    );
    expect(after.map(([[r]]) => r.mode)).toEqual(['auto', 'auto', 'auto']);
  });

  test('values stay values: quotes, backslashes and commas in a list, a quote in a scalar', async () => {
    const evil = [`x'); DROP TABLE pipelined; --`, 'a,b', 'back\\slash', 'dq"uote', '{}'];
    const [[row]] = await pipelinedTransaction(orm, (tx) =>
      tx.commit({ text: `SELECT ?::text[] AS list, ?::text AS one`, params: [pgArray(evil), evil[0]], prepare: true }),
    );
    expect(row).toEqual({ list: evil, one: evil[0] });
    expect(await executePrepared(orm, { text: `SELECT ?::text[] AS list`, params: [pgArray(evil)] })).toEqual([
      { list: evil },
    ]);
  });

  test('a batch that fails after its PREPARE: the connection is asked what it holds, and nothing is prepared twice', async () => {
    await orm.em.getConnection().execute(`INSERT INTO pipelined VALUES (1, 1)`);
    const check = { text: `SELECT n FROM pipelined WHERE id = ?`, prepare: true };
    await expect(
      pipelinedTransaction(orm, (tx) =>
        tx.commit({ ...check, params: [1] }, { text: `INSERT INTO pipelined VALUES (1, 1)` }),
      ),
    ).rejects.toMatchObject({ name: 'UniqueConstraintViolationException' });
    // Every connection of the pool, several times: none fails with "prepared statement already exists".
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => pipelinedTransaction(orm, (tx) => tx.commit({ ...check, params: [1] }))),
    );
    expect(answers.map(([[r]]) => r.n)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(prepares()).toBeLessThanOrEqual(2);
  });

  test('executePrepared: one statement per call on a pooled connection, the rows as execute returns them', async () => {
    await orm.em.getConnection().execute(`INSERT INTO pipelined VALUES (1, 4), (2, 9)`);
    const read = () =>
      executePrepared<{ id: number; n: number }>(orm, {
        text: `SELECT id, n FROM pipelined WHERE id = ANY(?::int[]) ORDER BY id`,
        params: [pgArray([1, 2])],
      });
    expect(await read()).toEqual([
      { id: 1, n: 4 },
      { id: 2, n: 9 },
    ]);
    expect(await read()).toEqual(await read());
    expect(sent).toHaveLength(4);
  });
});

import { randomUUID } from 'node:crypto';
import { pipelinedTransaction } from '@shop/kernel';
import { createTestEnv, holdTableLock } from '@shop/kernel/testing';
import { openPostgresStores } from '../src/store/postgres';
import { storeContract } from './store-contract';

describe('PostgreSQL store contract', () => {
  storeContract(async () => {
    const env = await createTestEnv();
    const stores = await openPostgresStores(env.config);
    return {
      stores,
      async cleanup() {
        await stores.close();
        await env.cleanup();
      },
    };
  });
});

describe('PostgreSQL store: writes many callers make at once', () => {
  let env: Awaited<ReturnType<typeof createTestEnv>>;
  let stores: Awaited<ReturnType<typeof openPostgresStores>>;
  beforeEach(async () => {
    env = await createTestEnv();
    stores = await openPostgresStores(env.config);
    await stores.migrate();
  });
  afterEach(async () => {
    await stores.close();
    await env.cleanup();
  });
  /** Every round trip goes through the connection's executeQuery (timed and logged there). */
  const roundTrips = () =>
    jest.spyOn(
      stores.orm.em.getConnection() as unknown as { executeQuery(sql: string): Promise<unknown> },
      'executeQuery',
    );

  it('emails sent together are marked by fewer statements than emails (group commit)', async () => {
    const now = new Date();
    for (let i = 0; i < 8; i++)
      await stores.emails.enqueue({
        id: randomUUID(),
        eventId: randomUUID(),
        template: 'order_confirmation',
        to: `gc${i}@example.com`,
        subject: 'Order',
        html: '<p>x</p>',
        text: 'x',
        createdAt: now,
      });
    const claimed = await stores.emails.claimDue(8, new Date(now.getTime() + 1000), 100_000);
    expect(claimed).toHaveLength(8);
    // Only the marks run here.
    const execute = roundTrips();
    try {
      const marked = await Promise.all(claimed.map((c) => stores.emails.markSent(c.id, c.claimId, new Date())));
      expect(marked).toEqual(Array(8).fill(true));
      // The first goes alone; the seven submitted while it runs share the next (before: eight statements).
      expect(execute.mock.calls).toHaveLength(2);
    } finally {
      execute.mockRestore();
    }
    for (const c of claimed) expect(await stores.emails.get(c.id)).toMatchObject({ status: 'SENT', attempts: 1 });
  });

  it('marks an email sent through its primary key: the plan it keeps does not read every email the table holds', async () => {
    // A table with some history, as any shop's has: 400 emails sent before, its statistics up to date.
    await stores.orm.em.getConnection().execute(
      `INSERT INTO emails (id, event_id, template, to_address, subject, status, attempts, next_attempt_at, created_at, sent_at)
       SELECT gen_random_uuid(), 'old-' || g, 'order_confirmation', 'old@example.com', 'Order', 'SENT', 1, now(), now(), now()
       FROM generate_series(1, 400) g`,
    );
    await stores.orm.em.getConnection().execute('ANALYZE emails');
    const now = new Date();
    await stores.emails.enqueue({
      id: randomUUID(),
      eventId: randomUUID(),
      template: 'order_confirmation',
      to: 'plan@example.com',
      subject: 'Order',
      html: '<p>x</p>',
      text: 'x',
      createdAt: now,
    });
    const [claimed] = await stores.emails.claimDue(1, new Date(now.getTime() + 1000), 100_000);
    const execute = roundTrips();
    try {
      expect(await stores.emails.markSent(claimed.id, claimed.claimId, new Date())).toBe(true);
      // The statement as the store prepared it on its connection (planned once there, then kept: see the store).
      const sent = execute.mock.calls.map(([sql]) => String(sql)).join('\n');
      const update = /PREPARE pp_\w+ AS (UPDATE emails\b[^;]*SET status = 'SENT'[^;]*)/.exec(sent)?.[1];
      expect(update).toBeDefined();
      execute.mockRestore();
      // Its generic plan, as the store's transactions force it, on this table.
      const parameters = new Set(update!.match(/\$\d+/g)).size;
      const [, , [explained]] = await pipelinedTransaction(stores.orm, (tx) =>
        tx.commit(
          { text: 'SET LOCAL plan_cache_mode = force_generic_plan' },
          { text: `PREPARE mark_sent_plan AS ${update}` },
          { text: `EXPLAIN (FORMAT JSON) EXECUTE mark_sent_plan(${Array(parameters).fill('NULL').join(', ')})` },
          { text: 'DEALLOCATE mark_sent_plan' },
        ),
      );
      type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PlanNode[] };
      const nodes: PlanNode[] = [];
      const walk = (n: PlanNode) => {
        nodes.push(n);
        n.Plans?.forEach(walk);
      };
      walk((explained['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan);
      const reads = nodes.filter((n) => n['Relation Name'] === 'emails' && n['Node Type'] !== 'ModifyTable');
      // Before: a hash join over a sequential scan of all 401 rows, for every batch of marks.
      expect(reads.map((n) => [n['Node Type'], n['Index Name']])).toEqual([['Index Scan', 'emails_pkey']]);
    } finally {
      execute.mockRestore();
    }
    expect(await stores.emails.get(claimed.id)).toMatchObject({ status: 'SENT', attempts: 1 });
  });

  it('emails queued together are inserted by fewer statements than emails; a twin in the batch gets the queued row', async () => {
    const now = new Date();
    const email = (i: number, eventId = randomUUID()) => ({
      id: randomUUID(),
      eventId,
      template: 'order_confirmation',
      to: `q${i}@example.com`,
      subject: `Order ${i}`,
      html: `<p>it's "${i}" \\ done</p>`,
      text: `${i}`,
      createdAt: now,
    });
    const emails = Array.from({ length: 8 }, (_, i) => email(i));
    // The same event handled twice at once (a redelivery racing the first delivery): one row.
    const twin = email(99, emails[7].eventId);
    const execute = roundTrips();
    let results: { created: boolean; email: { id: string; subject: string; to: string } }[];
    try {
      results = await Promise.all([...emails, twin].map((e) => stores.emails.enqueue(e)));
      // Queued in one turn: one insert for the nine, and one read for the twin's row (before: nine inserts, and a
      // read for the twin).
      expect(execute.mock.calls).toHaveLength(2);
    } finally {
      execute.mockRestore();
    }
    expect(results.map((r) => r.created)).toEqual([...Array(8).fill(true), false]);
    expect(results.slice(0, 8).map((r) => r.email.id)).toEqual(emails.map((e) => e.id));
    expect(results[8].email).toMatchObject({ id: emails[7].id, subject: 'Order 7', to: 'q7@example.com' });
    for (const e of emails)
      expect(await stores.emails.get(e.id)).toMatchObject({ subject: e.subject, to: e.to, status: 'QUEUED' });
    // Each queued with its own body, quotes and backslashes intact.
    const claimed = await stores.emails.claimDue(20, new Date(now.getTime() + 1000), 100_000);
    expect(claimed.map((c) => c.html).sort()).toEqual(emails.map((e) => e.html).sort());
  });

  it('audit records that arrive while one write runs are written by the next, together; an event twice: one row', async () => {
    const type = `audit.gc_${randomUUID().slice(0, 8)}`;
    const records = Array.from({ length: 8 }, (_, n) => ({
      id: randomUUID(),
      type,
      subject: `s${n}`,
      payload: JSON.stringify({ n }),
      occurredAt: new Date(),
      recordedAt: new Date(),
    }));
    // Another transaction holds the table, so that the first write stays running while the others arrive, each in
    // a turn of the event loop of its own (as a consumer's messages do).
    const lock = await holdTableLock(stores.orm, 'audit_events');
    const execute = roundTrips();
    let created: boolean[];
    try {
      const pending: Promise<boolean>[] = [];
      // The last is a redelivery of the first.
      for (const r of [...records, records[0]]) {
        pending.push(stores.audit.record(r));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      await lock.release();
      created = await Promise.all(pending);
      const writes = execute.mock.calls.map(([sql]) => String(sql)).filter((sql) => /EXECUTE pp_/.test(sql));
      // The first alone; the eight that arrived while it waited, in the next (before: one per turn, nine).
      expect(writes).toHaveLength(2);
    } finally {
      execute.mockRestore();
    }
    expect(created).toEqual([...Array(8).fill(true), false]);
    const rows = (await stores.audit.list({ limit: 20, type })).rows;
    expect(rows.map((r) => r.id).sort()).toEqual(records.map((r) => r.id).sort());
  });
});

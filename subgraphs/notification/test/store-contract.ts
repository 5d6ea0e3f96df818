import { randomUUID } from 'node:crypto';
import { EmailStatus, LogRecord, NewEmail, NotificationStores } from '../src/store';

/**
 * The behaviour every storage adapter must have. Run by store.postgres.test.ts and store.mongo.test.ts.
 * Tests share one database, so each uses its own recipients / event types and first retires whatever is due.
 */
export function storeContract(open: () => Promise<{ stores: NotificationStores; cleanup(): Promise<void> }>): void {
  let stores: NotificationStores;
  let cleanup: () => Promise<void>;
  const FAR_FUTURE = new Date('2999-01-01T00:00:00Z');

  beforeAll(async () => {
    ({ stores, cleanup } = await open());
    await stores.migrate();
  });
  afterAll(async () => {
    await cleanup?.();
  });

  /** Marks every email that is due (at any time) DEAD so the next test starts with an empty queue. */
  async function retireAllDue(): Promise<void> {
    for (;;) {
      const batch = await stores.emails.claimDue(50, FAR_FUTURE, 1000);
      if (!batch.length) return;
      for (const e of batch) await stores.emails.markFailed(e.id, e.claimId, 'retired by test', null);
    }
  }
  beforeEach(retireAllDue);

  const newEmail = (over: Partial<NewEmail> = {}): NewEmail => ({
    id: randomUUID(),
    eventId: randomUUID(),
    template: 'verify-email',
    to: `${randomUUID()}@example.test`,
    subject: 'Subject',
    html: '<p>secret link</p>',
    text: 'secret link',
    createdAt: new Date(),
    ...over,
  });

  describe('EmailStore', () => {
    it('enqueues once per (event id, template)', async () => {
      const first = newEmail();
      const a = await stores.emails.enqueue(first);
      const b = await stores.emails.enqueue({ ...first, id: randomUUID(), subject: 'other' });
      const c = await stores.emails.enqueue({ ...first, id: randomUUID(), template: 'password-changed' });
      expect(a.created).toBe(true);
      expect(a.email).toMatchObject({
        id: first.id,
        status: EmailStatus.QUEUED,
        attempts: 0,
        lastError: null,
        sentAt: null,
        to: first.to,
      });
      expect(b.created).toBe(false);
      expect(b.email.id).toBe(first.id);
      expect(c.created).toBe(true);
      expect((await stores.emails.list({ limit: 10, to: first.to })).totalCount).toBe(2);
    });

    it('concurrent enqueues of the same event create one email', async () => {
      const e = newEmail();
      const results = await Promise.all(
        Array.from({ length: 8 }, () => stores.emails.enqueue({ ...e, id: randomUUID() })),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.email.id)).size).toBe(1);
    });

    it('claims only due emails, each by one claimer, until its lease ends', async () => {
      const now = new Date();
      const due = await Promise.all([0, 1, 2, 3, 4].map(() => stores.emails.enqueue(newEmail({ createdAt: now }))));
      const later = await stores.emails.enqueue(newEmail({ createdAt: new Date(now.getTime() + 60_000) }));

      const [x, y] = await Promise.all([
        stores.emails.claimDue(3, now, 10_000),
        stores.emails.claimDue(3, now, 10_000),
      ]);
      const claimed = [...x, ...y].map((e) => e.id);
      expect(claimed.sort()).toEqual(due.map((d) => d.email.id).sort());
      expect(x[0].html).toBe('<p>secret link</p>');
      expect(x[0].text).toBe('secret link');
      expect(x.every((e) => e.claimId === x[0].claimId)).toBe(true);

      expect(await stores.emails.claimDue(10, new Date(now.getTime() + 9_000), 10_000)).toEqual([]);
      // The lease is over at now + 10 s (the claimer died): claimable again; the later email too.
      const again = await stores.emails.claimDue(10, new Date(now.getTime() + 60_000), 10_000);
      expect(again.map((e) => e.id).sort()).toEqual([...claimed, later.email.id].sort());
    });

    it('marks sent with the current claim only, and drops the body', async () => {
      const { email } = await stores.emails.enqueue(newEmail());
      const [stale] = await stores.emails.claimDue(1, new Date(Date.now() + 1000), 100);
      const [current] = await stores.emails.claimDue(1, new Date(Date.now() + 5000), 100_000);
      expect(current.id).toBe(email.id);
      expect(await stores.emails.markSent(email.id, stale.claimId, new Date())).toBe(false);
      const sentAt = new Date();
      expect(await stores.emails.markSent(email.id, current.claimId, sentAt)).toBe(true);
      expect(await stores.emails.get(email.id)).toMatchObject({ status: EmailStatus.SENT, attempts: 1, sentAt });
      expect(await stores.emails.markFailed(email.id, current.claimId, 'late', null)).toBe(false);
      expect(await stores.emails.claimDue(10, FAR_FUTURE, 1000)).toEqual([]);
    });

    it('marks several emails sent at once: each caller is told about its own row only', async () => {
      const emails = await Promise.all(Array.from({ length: 6 }, () => stores.emails.enqueue(newEmail())));
      const claimed = await stores.emails.claimDue(10, new Date(Date.now() + 1000), 100_000);
      expect(claimed.map((c) => c.id).sort()).toEqual(emails.map((e) => e.email.id).sort());
      const times = claimed.map((_, i) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
      // The last one with a claim that is not its own, the one before with a claim that is no id at all: both refused,
      // and left as they were; the others are not affected.
      const claimOf = (c: (typeof claimed)[number], i: number) =>
        i === 5 ? randomUUID() : i === 4 ? 'not-a-claim' : c.claimId;
      const results = await Promise.all(claimed.map((c, i) => stores.emails.markSent(c.id, claimOf(c, i), times[i])));
      expect(results).toEqual([true, true, true, true, false, false]);
      for (const [i, c] of claimed.entries())
        expect(await stores.emails.get(c.id)).toMatchObject(
          i >= 4 ? { status: EmailStatus.QUEUED, sentAt: null } : { status: EmailStatus.SENT, sentAt: times[i] },
        );
    });

    it('schedules a retry after a failure and stops at DEAD', async () => {
      const t0 = new Date();
      const { email } = await stores.emails.enqueue(newEmail({ createdAt: t0 }));
      const [c1] = await stores.emails.claimDue(1, t0, 1000);
      const retryAt = new Date(t0.getTime() + 30_000);
      expect(await stores.emails.markFailed(email.id, c1.claimId, 'connect ECONNREFUSED', retryAt)).toBe(true);
      expect(await stores.emails.get(email.id)).toMatchObject({
        status: EmailStatus.FAILED,
        attempts: 1,
        lastError: 'connect ECONNREFUSED',
        nextAttemptAt: retryAt,
        sentAt: null,
      });

      expect(await stores.emails.claimDue(1, new Date(retryAt.getTime() - 1), 1000)).toEqual([]);
      const [c2] = await stores.emails.claimDue(1, retryAt, 1000);
      expect(c2).toMatchObject({ id: email.id, attempts: 1, html: '<p>secret link</p>' });
      expect(await stores.emails.markFailed(email.id, c2.claimId, 'timeout', null)).toBe(true);
      expect(await stores.emails.get(email.id)).toMatchObject({
        status: EmailStatus.DEAD,
        attempts: 2,
        lastError: 'timeout',
      });
      expect(await stores.emails.claimDue(10, FAR_FUTURE, 1000)).toEqual([]);
    });

    it('lists newest first with keyset pages, filters and totals', async () => {
      const to = `${randomUUID()}@example.test`;
      const base = Date.now();
      // Three share a timestamp so the id tie-break is exercised.
      const times = [0, 1000, 1000, 1000, 2000, 3000, 4000].map((d) => new Date(base + d));
      const ids = [];
      for (const createdAt of times) ids.push((await stores.emails.enqueue(newEmail({ to, createdAt }))).email.id);
      await stores.emails.enqueue(newEmail());
      const [claimed] = await stores.emails.claimDue(1, new Date(base), 1000);
      await stores.emails.markSent(claimed.id, claimed.claimId, new Date());

      const seen: string[] = [];
      let after: { at: Date; id: string } | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await stores.emails.list({ limit: 3, to, after });
        expect(page.totalCount).toBe(7);
        seen.push(...page.rows.map((r) => r.id));
        if (page.rows.length < 3) break;
        const last = page.rows[page.rows.length - 1];
        after = { at: last.createdAt, id: last.id };
      }
      expect(seen).toHaveLength(7);
      expect(new Set(seen).size).toBe(7);
      const all = (await stores.emails.list({ limit: 100, to })).rows;
      expect(all.map((r) => r.id)).toEqual(seen);
      for (let i = 1; i < all.length; i++) {
        const [p, c] = [all[i - 1], all[i]];
        expect(
          p.createdAt.getTime() > c.createdAt.getTime() ||
            (p.createdAt.getTime() === c.createdAt.getTime() && p.id > c.id),
        ).toBe(true);
      }
      expect(all[all.length - 1].id).toBe(ids[0]);

      const sent = await stores.emails.list({ limit: 100, to, status: EmailStatus.SENT });
      expect(sent.totalCount).toBe(1);
      expect(sent.rows.map((r) => r.id)).toEqual([claimed.id]);
      expect((await stores.emails.list({ limit: 100, to, status: EmailStatus.QUEUED })).totalCount).toBe(6);
    });
  });

  describe('AuditStore', () => {
    const entry = (type: string, occurredAt: Date, id = randomUUID()) => ({
      id,
      type,
      subject: randomUUID(),
      payload: JSON.stringify({ a: 1 }),
      occurredAt,
      recordedAt: new Date(),
    });

    it('records each event once', async () => {
      const e = entry(`test.${randomUUID()}`, new Date());
      expect(await stores.audit.record(e)).toBe(true);
      expect(await stores.audit.record({ ...e, payload: '{"b":2}' })).toBe(false);
      const page = await stores.audit.list({ limit: 10, type: e.type });
      expect(page.totalCount).toBe(1);
      expect(page.rows[0]).toMatchObject({
        id: e.id,
        type: e.type,
        subject: e.subject,
        payload: e.payload,
        occurredAt: e.occurredAt,
      });
    });

    it('pages newest first by type with each event exactly once', async () => {
      const type = `test.${randomUUID()}`;
      const base = Date.now();
      const entries = [0, 0, 0, 5, 10, 10, 20, 30].map((d) => entry(type, new Date(base + d)));
      await Promise.all(entries.map((e) => stores.audit.record(e)));
      await stores.audit.record(entry(`other.${randomUUID()}`, new Date(base + 15)));

      const seen: string[] = [];
      let after: { at: Date; id: string } | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await stores.audit.list({ limit: 3, type, after });
        expect(page.totalCount).toBe(8);
        seen.push(...page.rows.map((r) => r.id));
        if (page.rows.length < 3) break;
        const last = page.rows[page.rows.length - 1];
        after = { at: last.occurredAt, id: last.id };
      }
      const expected = [...entries]
        .sort((a, b) => b.occurredAt.getTime() - a.occurredAt.getTime() || (b.id > a.id ? 1 : -1))
        .map((e) => e.id);
      expect(seen).toEqual(expected);
    });
  });

  describe('LogStore', () => {
    /** Lines of one test's own service (the store is shared by the tests of a file). */
    const lines = (n: number, over: (i: number) => Partial<LogRecord> = () => ({})) => {
      const service = `svc-${randomUUID().slice(0, 8)}`;
      const batch = randomUUID();
      const base = Date.now();
      return Array.from({ length: n }, (_, i): LogRecord => ({
        id: `${batch}:${i}`,
        time: new Date(base + i),
        service,
        level: 30,
        message: `line ${i}`,
        requestId: null,
        traceId: null,
        fields: { i },
        ...over(i),
      }));
    };

    it('inserts a batch once: a redelivered batch adds nothing', async () => {
      const batch = lines(50);
      expect(await stores.logs.insertMany(batch)).toBe(50);
      expect(await stores.logs.insertMany(batch)).toBe(0);
      expect(await stores.logs.insertMany([])).toBe(0);
      expect(await stores.logs.count({ service: batch[0].service })).toBe(50);
      const [newest] = await stores.logs.list({ limit: 1, service: batch[0].service });
      expect(newest).toEqual(batch[49]);
    });

    it('pages newest first by (time, id), each line once', async () => {
      // Pairs of lines share a millisecond: the id breaks the tie.
      const batch = lines(11, (i) => ({ time: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, Math.floor(i / 2))) }));
      await stores.logs.insertMany(batch);
      const seen: string[] = [];
      let after: { at: Date; id: string } | undefined;
      for (;;) {
        const rows = await stores.logs.list({ limit: 4, service: batch[0].service, after });
        seen.push(...rows.map((r) => r.id));
        if (rows.length < 4) break;
        after = { at: rows[3].time, id: rows[3].id };
      }
      const expected = [...batch]
        .sort((a, b) => b.time.getTime() - a.time.getTime() || (b.id > a.id ? 1 : -1))
        .map((l) => l.id);
      expect(seen).toEqual(expected);
    });

    it('filters by level, request, trace, time and message text', async () => {
      const base = Date.UTC(2031, 5, 1);
      const batch = lines(6, (i) => ({
        time: new Date(base + i * 1000),
        level: [20, 30, 40, 50, 60, 30][i],
        requestId: i < 3 ? 'req-a' : 'req-b',
        traceId: i % 2 ? 'trace-odd' : null,
        message: ['Started', 'cart 100% FULL', 'cart_limit', 'payment declined', 'boom', 'done'][i],
      }));
      await stores.logs.insertMany(batch);
      const service = batch[0].service;
      const ids = async (f: Parameters<typeof stores.logs.count>[0]) => {
        const rows = await stores.logs.list({ limit: 100, service, ...f });
        expect(await stores.logs.count({ service, ...f })).toBe(rows.length);
        return rows.map((r) => Number(r.id.split(':')[1])).sort();
      };
      expect(await ids({})).toEqual([0, 1, 2, 3, 4, 5]);
      expect(await ids({ minLevel: 40 })).toEqual([2, 3, 4]);
      expect(await ids({ requestId: 'req-a' })).toEqual([0, 1, 2]);
      expect(await ids({ traceId: 'trace-odd' })).toEqual([1, 3, 5]);
      expect(await ids({ since: new Date(base + 2000), until: new Date(base + 4000) })).toEqual([2, 3]);
      expect(await ids({ search: 'CART' })).toEqual([1, 2]);
      // `%` and `_` are literal characters, not wildcards.
      expect(await ids({ search: '100%' })).toEqual([1]);
      expect(await ids({ search: 't_l' })).toEqual([2]);
      expect(await ids({ search: 'cart', minLevel: 40, requestId: 'req-a' })).toEqual([2]);
      expect(await ids({ service: 'nobody' })).toEqual([]);
    });

    it('deletes lines older than the cutoff, once, even with two purges at the same time', async () => {
      const old = lines(30, (i) => ({ time: new Date(Date.UTC(2001, 0, 1) + i) }));
      const fresh = lines(5, () => ({ service: old[0].service }));
      await stores.logs.insertMany([...old, ...fresh]);
      const cutoff = new Date(Date.UTC(2002, 0, 1));
      // Other tests' lines are all newer than 2002: only these 30 are old.
      const [a, b] = await Promise.all([
        stores.logs.deleteOlderThan(cutoff, 7),
        stores.logs.deleteOlderThan(cutoff, 7),
      ]);
      expect(a + b).toBe(30);
      expect(await stores.logs.count({ service: old[0].service })).toBe(5);
    });
  });

  it('answers ping', async () => {
    await expect(stores.ping()).resolves.toBeUndefined();
  });
}

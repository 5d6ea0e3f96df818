import { randomUUID } from 'node:crypto';
import { EmailStatus, NewEmail, NotificationStores } from '../src/store';

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

  it('answers ping', async () => {
    await expect(stores.ping()).resolves.toBeUndefined();
  });
}

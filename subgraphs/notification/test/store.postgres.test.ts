import { randomUUID } from 'node:crypto';
import { createTestEnv } from '@shop/kernel/testing';
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
  it('emails sent together are marked by fewer statements than emails (group commit)', async () => {
    const env = await createTestEnv();
    const stores = await openPostgresStores(env.config);
    try {
      await stores.migrate();
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
      // Every round trip goes through the connection's executeQuery (timed and logged there); only the marks run here.
      const execute = jest.spyOn(
        stores.orm.em.getConnection() as unknown as { executeQuery(sql: string): Promise<unknown> },
        'executeQuery',
      );
      try {
        const marked = await Promise.all(claimed.map((c) => stores.emails.markSent(c.id, c.claimId, new Date())));
        expect(marked).toEqual(Array(8).fill(true));
        // The first goes alone; the seven submitted while it runs share the next (before: eight statements).
        expect(execute.mock.calls).toHaveLength(2);
      } finally {
        execute.mockRestore();
      }
      for (const c of claimed) expect(await stores.emails.get(c.id)).toMatchObject({ status: 'SENT', attempts: 1 });
    } finally {
      await stores.close();
      await env.cleanup();
    }
  });
});

import type { MikroORM } from '@mikro-orm/postgresql';
import { pipelinedTransaction } from '../db';

/**
 * Holds `LOCK TABLE <table> IN SHARE ROW EXCLUSIVE MODE` in a transaction of its own until `release`: writes to
 * the table wait meanwhile, so a test can gather what arrives while one write is held (group commits, batching).
 * Resolves once the lock is granted; `release` ends the transaction and resolves when it has.
 */
export async function holdTableLock(orm: MikroORM, table: string): Promise<{ release(): Promise<void> }> {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let taken!: () => void;
  const lockTaken = new Promise<void>((resolve) => (taken = resolve));
  const holder = pipelinedTransaction(orm, async (tx) => {
    await tx.send({ text: `LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE` });
    taken();
    await gate;
  });
  await Promise.race([lockTaken, holder]);
  return {
    async release() {
      open();
      await holder;
    },
  };
}

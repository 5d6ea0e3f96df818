import { createTestEnv } from '@shop/kernel/testing';
import { openMongoStores } from '../src/store/mongo';
import { storeContract } from './store-contract';

const MONGO_URL = process.env.MONGO_URL;

if (!MONGO_URL) {
  console.warn('MongoDB store contract skipped: MONGO_URL not set');
  describe.skip('MongoDB store contract (skipped: MONGO_URL not set)', () => {
    it('runs only when MONGO_URL points at a MongoDB server', () => undefined);
  });
} else {
  describe('MongoDB store contract', () => {
    storeContract(async () => {
      const env = await createTestEnv({ MONGO_URL });
      const stores = await openMongoStores(env.config);
      return {
        stores,
        async cleanup() {
          await stores.connection.dropDatabase();
          await stores.close();
          await env.cleanup();
        },
      };
    });
  });
}

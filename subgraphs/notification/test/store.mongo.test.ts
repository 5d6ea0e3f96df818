import { createTestEnv } from '@shop/kernel/testing';
import { openMongoStores } from '../src/store/mongo';
import { storeContract } from './store-contract';

const MONGO_URL = process.env.MONGO_URL;
if (!MONGO_URL) console.warn('MongoDB store contract skipped: MONGO_URL not set');

// Without MONGO_URL the contract's own tests are listed as skipped (no stand-in test); with it they run against that server.
(MONGO_URL ? describe : describe.skip)(
  `MongoDB store contract${MONGO_URL ? '' : ' (skipped: MONGO_URL not set)'}`,
  () => {
    storeContract(async () => {
      const env = await createTestEnv({ MONGO_URL: MONGO_URL! });
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
  },
);

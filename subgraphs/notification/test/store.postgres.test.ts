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

import { createTestEnv } from '@shop/kernel/testing';
import { openMongoImageStore } from '../src/store/mongo';
import { openPostgresImageStore } from '../src/store/postgres';
import { imageStoreContract } from './store.contract';

describe('ImageStore contract: PostgreSQL adapter', () => {
  imageStoreContract(async () => {
    const env = await createTestEnv();
    const store = await openPostgresImageStore(env.config);
    await store.migrate();
    return {
      store,
      env,
      async cleanup() {
        await store.close();
        await env.cleanup();
      },
    };
  });
});

// No MongoDB server exists on the development machines: these run only when MONGO_URL names one (a replica set).
const mongoUrl = process.env.MONGO_URL;
(mongoUrl ? describe : describe.skip)(
  `ImageStore contract: MongoDB adapter${mongoUrl ? '' : ' — SKIPPED: MONGO_URL is not set (point it at a MongoDB replica set to run these)'}`,
  () => {
    imageStoreContract(async () => {
      const env = await createTestEnv({ MONGO_URL: mongoUrl! });
      const store = await openMongoImageStore(env.config);
      await store.migrate();
      return {
        store,
        env,
        async cleanup() {
          await store.dropDatabase();
          await store.close();
          await env.cleanup();
        },
      };
    });
  },
);

if (!mongoUrl) {
  console.info('ImageStore contract: the MongoDB adapter suite was skipped because MONGO_URL is not set.');
}

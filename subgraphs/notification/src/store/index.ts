import type { Config, Logger } from '@shop/kernel';
import type { NotificationStores } from './types';

export * from './types';

/** PostgreSQL by default; MongoDB when MONGO_URL is set. Drivers are loaded only for the store in use. */
export async function openStores(config: Config, logger?: Logger): Promise<NotificationStores> {
  if (config.mongoUrl) {
    const { openMongoStores } = await import('./mongo');
    return openMongoStores(config, logger);
  }
  const { openPostgresStores } = await import('./postgres');
  return openPostgresStores(config, logger);
}

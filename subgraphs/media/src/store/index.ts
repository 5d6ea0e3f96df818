import type { Config, Logger } from '@shop/kernel';
import { openMongoImageStore } from './mongo';
import { openPostgresImageStore } from './postgres';
import type { ImageStore } from './types';

export * from './types';
export { DiskFileStorage } from './files';
export type { FileStorage, StoredFile, FileSource } from './files';

/** PostgreSQL by default; MongoDB (mongoose) when MONGO_URL is set. */
export function openImageStore(
  config: Config,
  opts: { logger?: Logger; onQuery?: (sql: string) => void } = {},
): Promise<ImageStore> {
  return config.mongoUrl ? openMongoImageStore(config, opts) : openPostgresImageStore(config, opts);
}

import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122050000Media } from './Migration20261122050000Media';

/** The media database's migrations (PostgreSQL store), in order (after the kernel's). */
export const MEDIA_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122050000Media', class: Migration20261122050000Media },
];

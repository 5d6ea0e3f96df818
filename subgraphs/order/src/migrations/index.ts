import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122070000Orders } from './Migration20261122070000Orders';

/** The order database's migrations, in order (after the kernel's). */
export const ORDER_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122070000Orders', class: Migration20261122070000Orders },
];

import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122070000Orders } from './Migration20261122070000Orders';
import { Migration20261204150000Payments } from './Migration20261204150000Payments';
import { Migration20261206120000Buyers } from './Migration20261206120000Buyers';

/** The order database's migrations, in order (after the kernel's). */
export const ORDER_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122070000Orders', class: Migration20261122070000Orders },
  { name: 'Migration20261204150000Payments', class: Migration20261204150000Payments },
  { name: 'Migration20261206120000Buyers', class: Migration20261206120000Buyers },
];

import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122020000Catalog } from './Migration20261122020000Catalog';
import { Migration20261122030000Holds } from './Migration20261122030000Holds';
import { Migration20261210000000HoldLifetime } from './Migration20261210000000HoldLifetime';
import { Migration20261220000000HoldTotals } from './Migration20261220000000HoldTotals';

/** The product database's migrations, in order (after the kernel's). */
export const PRODUCT_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122020000Catalog', class: Migration20261122020000Catalog },
  { name: 'Migration20261122030000Holds', class: Migration20261122030000Holds },
  { name: 'Migration20261210000000HoldLifetime', class: Migration20261210000000HoldLifetime },
  { name: 'Migration20261220000000HoldTotals', class: Migration20261220000000HoldTotals },
];

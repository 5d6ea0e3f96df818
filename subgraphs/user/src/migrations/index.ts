import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122010000Users } from './Migration20261122010000Users';
import { Migration20261203000000ScrubOutboxSecrets } from './Migration20261203000000ScrubOutboxSecrets';

/** The user database's migrations, in order (after the kernel's). */
export const USER_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122010000Users', class: Migration20261122010000Users },
  { name: 'Migration20261203000000ScrubOutboxSecrets', class: Migration20261203000000ScrubOutboxSecrets },
];

import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122060000Notification } from './Migration20261122060000Notification';

/** The notification database's migrations (PostgreSQL store), in order (after the kernel's). */
export const NOTIFICATION_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122060000Notification', class: Migration20261122060000Notification },
];

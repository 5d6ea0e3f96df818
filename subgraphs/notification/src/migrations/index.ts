import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122060000Notification } from './Migration20261122060000Notification';

/** Applied in this order after the kernel's migration. */
export const NOTIFICATION_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122060000Notification', class: Migration20261122060000Notification },
];

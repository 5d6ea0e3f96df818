import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261122060000Notification } from './Migration20261122060000Notification';
import { Migration20261201090000Logs } from './Migration20261201090000Logs';
import { Migration20261215000000EmailOrigin } from './Migration20261215000000EmailOrigin';

/** The notification database's migrations (PostgreSQL store), in order (after the kernel's). */
export const NOTIFICATION_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261122060000Notification', class: Migration20261122060000Notification },
  { name: 'Migration20261201090000Logs', class: Migration20261201090000Logs },
  { name: 'Migration20261215000000EmailOrigin', class: Migration20261215000000EmailOrigin },
];

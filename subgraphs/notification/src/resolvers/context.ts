import type { BaseContext } from '@shop/kernel';

/**
 * Per-request state. No DataLoaders: admins page through emails and audit entries, nothing resolves by reference;
 * the resolvers get their services through their constructors.
 */
export type NotificationContext = BaseContext;

export function makeContext(base: BaseContext): NotificationContext {
  return base;
}

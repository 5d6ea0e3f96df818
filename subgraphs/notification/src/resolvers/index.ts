import { AuditResolver } from './audit.resolver';
import { EmailResolver } from './email.resolver';

export type { NotificationContext } from './context';
export const RESOLVERS = [EmailResolver, AuditResolver] as const;

import { Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { pageSize } from '@shop/kernel';
import { AuditEventsArgs } from '../schema/args';
import { AuditEventConnection } from '../schema/audit';
import type { NotificationContext } from './context';

@Resolver()
export class AuditResolver {
  @Authorized('ADMIN')
  @Query(() => AuditEventConnection, { description: 'The audit log of domain events, newest first. Admins only.' })
  auditEvents(@Ctx() ctx: NotificationContext, @Args(() => AuditEventsArgs) args: AuditEventsArgs): Promise<AuditEventConnection> {
    return ctx.audit.list({ first: pageSize(args.first), after: args.after, type: args.type });
  }
}

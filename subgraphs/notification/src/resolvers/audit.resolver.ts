import { Args, Authorized, Query, Resolver } from 'type-graphql';
import { Connection, pageSize } from '@shop/kernel';
import { AuditEventsArgs } from '../schema/args';
import { AuditEventConnection } from '../schema/audit';
import type { AuditService } from '../service/audit.service';
import type { AuditRecord } from '../store';

@Resolver()
export class AuditResolver {
  constructor(private readonly service: AuditService) {}

  @Authorized('ADMIN')
  @Query(() => AuditEventConnection, { description: 'The audit log of domain events, newest first. Admins only.' })
  auditEvents(@Args(() => AuditEventsArgs) args: AuditEventsArgs): Promise<Connection<AuditRecord>> {
    return this.service.list({ first: pageSize(args.first), after: args.after, type: args.type });
  }
}

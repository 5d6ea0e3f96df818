import { Args, Authorized, Query, Resolver } from 'type-graphql';
import { Connection, pageSize } from '@shop/kernel';
import { LogEntryConnection, LogsArgs } from '../schema/log';
import type { LogEntryView, LogService } from '../service/log.service';

@Resolver()
export class LogResolver {
  constructor(private readonly service: LogService) {}

  @Authorized('ADMIN')
  @Query(() => LogEntryConnection, {
    description: 'Central logs: the lines every service logged, newest first, filtered. Admins only.',
  })
  logs(@Args(() => LogsArgs) args: LogsArgs): Promise<Connection<LogEntryView>> {
    return this.service.list({ first: pageSize(args.first ?? 50), after: args.after, filter: args.filter });
  }
}

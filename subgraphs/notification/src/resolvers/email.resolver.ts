import { Args, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { pageSize } from '@shop/kernel';
import { EmailsArgs } from '../schema/args';
import { EmailMessageConnection } from '../schema/email';
import type { NotificationContext } from './context';

@Resolver()
export class EmailResolver {
  @Authorized('ADMIN')
  @Query(() => EmailMessageConnection, { description: 'Outgoing emails, newest first. Admins only.' })
  emails(@Ctx() ctx: NotificationContext, @Args(() => EmailsArgs) args: EmailsArgs): Promise<EmailMessageConnection> {
    return ctx.emails.list({ first: pageSize(args.first), after: args.after, to: args.to, status: args.status });
  }
}

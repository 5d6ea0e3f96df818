import { Args, Authorized, Query, Resolver } from 'type-graphql';
import { Connection, pageSize } from '@shop/kernel';
import { EmailsArgs } from '../schema/args';
import { EmailMessageConnection } from '../schema/email';
import type { EmailService } from '../service/email.service';
import type { EmailRecord } from '../store';

@Resolver()
export class EmailResolver {
  constructor(private readonly service: EmailService) {}

  @Authorized('ADMIN')
  @Query(() => EmailMessageConnection, { description: 'Outgoing emails, newest first. Admins only.' })
  emails(@Args(() => EmailsArgs) args: EmailsArgs): Promise<Connection<EmailRecord>> {
    return this.service.list({ first: pageSize(args.first), after: args.after, to: args.to, status: args.status });
  }
}

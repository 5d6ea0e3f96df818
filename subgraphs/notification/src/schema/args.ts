import { ArgsType, Field, Int } from 'type-graphql';
import { EmailStatus } from '../store/types';

@ArgsType()
export class EmailsArgs {
  @Field(() => Int, { nullable: true, description: 'Page size: default 20, at most 100.' })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last email of the previous page.' })
  after?: string | null;

  @Field(() => String, { nullable: true, description: 'Only emails to this address (case-insensitive).' })
  to?: string | null;

  @Field(() => EmailStatus, { nullable: true, description: 'Only emails in this delivery state.' })
  status?: EmailStatus | null;
}

@ArgsType()
export class AuditEventsArgs {
  @Field(() => Int, { nullable: true, description: 'Page size: default 20, at most 100.' })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'Cursor of the last event of the previous page.' })
  after?: string | null;

  @Field(() => String, { nullable: true, description: 'Only events of this type, e.g. `order.placed`.' })
  type?: string | null;
}

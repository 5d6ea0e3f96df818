import { ArgsType, Field } from 'type-graphql';
import { PageArgs } from '@shop/kernel';
import { EmailStatus } from '../store/types';

@ArgsType()
export class EmailsArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Only emails to this address (case-insensitive).' })
  to?: string | null;

  @Field(() => EmailStatus, { nullable: true, description: 'Only emails in this delivery state.' })
  status?: EmailStatus | null;
}

@ArgsType()
export class AuditEventsArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Only events of this type, e.g. `order.placed`.' })
  type?: string | null;
}

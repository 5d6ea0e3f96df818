import { Field, ID, Int, ObjectType } from 'type-graphql';
import { PageInfo } from '@shop/kernel';

@ObjectType({
  description: 'A domain event as recorded in the audit log (every event published on the bus, recorded once).',
})
export class AuditEvent {
  @Field(() => ID, { description: 'The id of the domain event.' })
  id!: string;

  @Field({ description: 'Event type, e.g. `user.registered` or `order.placed`.' })
  type!: string;

  @Field({
    description: 'Id of the entity the event is about (user, order, cart, product or image); empty when it names none.',
  })
  subject!: string;

  @Field({ description: 'The event data as a JSON string, with secrets such as link tokens replaced by "[redacted]".' })
  payload!: string;

  @Field(() => Date, { description: 'When the event happened, as stated by the service that published it.' })
  occurredAt!: Date;
}

@ObjectType({ description: 'An audit event in a page of `auditEvents`.' })
export class AuditEventEdge {
  @Field({ description: 'Opaque cursor of this event; pass it as `after` to continue after it.' })
  cursor!: string;

  @Field(() => AuditEvent, { description: 'The audit event.' })
  node!: AuditEvent;
}

@ObjectType({ description: 'A page of audit events, newest first.' })
export class AuditEventConnection {
  @Field(() => [AuditEventEdge], { description: 'The audit events on this page.' })
  edges!: AuditEventEdge[];

  @Field(() => PageInfo, { description: 'Whether more events follow, and the cursor to fetch them.' })
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Number of audit events matching the filter, over all pages.' })
  totalCount!: number;
}

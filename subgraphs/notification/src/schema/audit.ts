import { Field, ID, ObjectType } from 'type-graphql';
import { connectionTypes } from '@shop/kernel';

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

export const { Edge: AuditEventEdge, Connection: AuditEventConnection } = connectionTypes(AuditEvent, {
  one: 'audit event',
  many: 'audit events',
  order: 'newest first',
  totalCount: 'Number of audit events matching the filter, over all pages.',
});

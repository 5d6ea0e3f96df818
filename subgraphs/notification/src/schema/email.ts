import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { connectionTypes } from '@shop/kernel';
import { EmailStatus } from '../store/types';

export { EmailStatus };

registerEnumType(EmailStatus, {
  name: 'EmailStatus',
  description: 'Delivery state of an email in the outgoing queue.',
  valuesConfig: {
    QUEUED: { description: 'Waiting for its first delivery attempt.' },
    SENT: { description: 'Handed over to the mail server.' },
    FAILED: { description: 'The last attempt failed; another attempt is scheduled with exponential backoff.' },
    DEAD: { description: 'Every allowed attempt failed; no further attempts are made.' },
  },
});

@ObjectType({
  description:
    'An email the shop sent or is about to send (transactional mail such as address verification or password reset).',
})
export class EmailMessage {
  @Field(() => ID, { description: 'Unique id of this email.' })
  id!: string;

  @Field({ description: 'Recipient address (lower-case).' })
  to!: string;

  @Field({ description: 'Subject line.' })
  subject!: string;

  @Field({
    description:
      'Name of the template it was rendered from, e.g. `verify-email`, `password-reset`, `password-changed`.',
  })
  template!: string;

  @Field(() => EmailStatus, { description: 'Delivery state.' })
  status!: EmailStatus;

  @Field(() => Int, { description: 'Delivery attempts made so far, successful or not.' })
  attempts!: number;

  @Field(() => String, {
    nullable: true,
    description: 'Error of the most recent failed attempt; null when no attempt failed.',
  })
  lastError!: string | null;

  @Field(() => Date, { description: 'When the email was queued.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the mail server accepted it; null until sent.' })
  sentAt!: Date | null;
}

export const { Edge: EmailMessageEdge, Connection: EmailMessageConnection } = connectionTypes(EmailMessage, {
  one: 'email',
  many: 'emails',
  order: 'newest first',
  totalCount: 'Number of emails matching the filters, over all pages.',
});

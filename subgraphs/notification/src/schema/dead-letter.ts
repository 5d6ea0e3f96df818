import { ArgsType, Field, ID, Int, ObjectType } from 'type-graphql';
import { connectionTypes, PageArgs } from '@shop/kernel';
import { JSONScalar } from './log';

@ObjectType({
  description:
    'A message a durable NATS consumer gave up on (its handler failed NATS_MAX_DELIVER times, or failed with an error no retry can fix): a copy in the `DLQ` stream, secrets redacted.',
})
export class DeadLetter {
  @Field(() => ID, { description: 'Unique id of this dead letter (its sequence in the `DLQ` stream).' })
  id!: string;

  @Field({
    description:
      'The subject the message was published to, e.g. `user.registered` (the letter itself is stored under `dlq.<subject>`).',
  })
  subject!: string;

  @Field({ description: 'The durable consumer that gave it up, e.g. `notification-events-user_all`.' })
  consumer!: string;

  @Field({
    description: 'The last handler error (`<name>: <message>`, at most about 2000 characters: its start and its end).',
  })
  error!: string;

  @Field(() => Int, { description: 'How many times the message had been delivered to that consumer.' })
  deliveryCount!: number;

  @Field({ description: 'The JetStream stream the original message is in, e.g. `USER`.' })
  stream!: string;

  @Field({
    description: 'Sequence of the original message in that stream (a decimal string: it may exceed a 32-bit Int).',
  })
  streamSequence!: string;

  @Field(() => String, {
    nullable: true,
    description:
      "The original message's `Nats-Msg-Id` (for a published event its id, for a replayed one `replay:<stream>:<seq>`); null when it had none.",
  })
  messageId!: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'The id of the event it carries (its envelope `id`; the same after a replay, which every consumer dedupes on); null when it is not an event.',
  })
  eventId!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The type of the event it carries, e.g. `user.registered`; null when it is not an event.',
  })
  eventType!: string | null;

  @Field(() => JSONScalar, {
    nullable: true,
    description:
      'The original message when it was JSON (for events: the whole envelope), secret fields replaced by `[redacted]`; null otherwise.',
  })
  payload!: unknown;

  @Field(() => String, {
    nullable: true,
    description: 'The original message as text when it was not JSON (never for secret subjects); null otherwise.',
  })
  raw!: string | null;

  @Field({
    description:
      'Whether secret fields (link tokens) were redacted from the copy: such a letter cannot be replayed, only discarded.',
  })
  redacted!: boolean;

  @Field({
    description:
      'Whether `replayDeadLetter` can publish it again: not when its secrets were redacted, nor when only the start of a large non-JSON payload was kept.',
  })
  replayable!: boolean;

  @Field(() => Date, { description: 'When the consumer gave it up.' })
  deadAt!: Date;
}

export const { Edge: DeadLetterEdge, Connection: DeadLetterConnection } = connectionTypes(DeadLetter, {
  one: 'dead letter',
  many: 'dead letters',
  order: 'oldest first',
});

@ArgsType()
export class DeadLettersArgs extends PageArgs {}

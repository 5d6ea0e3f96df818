import { Arg, Args, Authorized, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Connection, pageSize } from '@shop/kernel';
import { DeadLetter, DeadLetterConnection, DeadLettersArgs } from '../schema/dead-letter';
import type { DeadLetterService } from '../service/dead-letter.service';

@Resolver()
export class DeadLetterResolver {
  constructor(private readonly service: DeadLetterService) {}

  @Authorized('ADMIN')
  @Query(() => DeadLetterConnection, {
    description: 'Messages the NATS consumers gave up on (the `DLQ` stream), oldest first. Admins only.',
  })
  deadLetters(@Args(() => DeadLettersArgs) args: DeadLettersArgs): Promise<Connection<DeadLetter>> {
    return this.service.list({ first: pageSize(args.first), after: args.after });
  }

  @Authorized('ADMIN')
  @Mutation(() => Boolean, {
    description:
      'Publishes a dead letter again to its original subject and deletes it; every consumer of that subject sees the event again (handlers are idempotent by event id). True when this call replayed it, false when it was already replayed or discarded; BAD_USER_INPUT when its secrets were redacted. Admins only.',
  })
  replayDeadLetter(@Arg('id', () => ID, { description: 'The dead letter to replay.' }) id: string): Promise<boolean> {
    return this.service.replay(id);
  }

  @Authorized('ADMIN')
  @Mutation(() => Boolean, {
    description:
      'Deletes a dead letter without replaying it. True when this call deleted it, false when it was already replayed or discarded. Admins only.',
  })
  discardDeadLetter(@Arg('id', () => ID, { description: 'The dead letter to discard.' }) id: string): Promise<boolean> {
    return this.service.discard(id);
  }
}

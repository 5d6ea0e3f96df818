import {
  badInput,
  Connection,
  DeadLetters,
  decodeCursor,
  Logger,
  parseDeadLetterId,
  toConnection,
  type DeadLetter as StoredLetter,
} from '@shop/kernel';
import type { DeadLetter } from '../schema/dead-letter';

/** Cursor = [DLQ sequence] of the last letter seen (oldest first); anything else is BAD_USER_INPUT on `after`. */
function parseAfter(after: string | null | undefined): number {
  const key = decodeCursor(after, 1);
  if (!key) return 0;
  const [seq] = key;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
    throw badInput('after', 'after is not a valid cursor');
  return seq;
}

function view(l: StoredLetter): DeadLetter {
  return {
    id: l.id,
    subject: l.subject,
    consumer: l.consumer,
    error: l.error,
    deliveryCount: l.deliveryCount,
    stream: l.stream,
    streamSequence: String(l.streamSeq),
    messageId: l.msgId,
    eventId: l.eventId,
    eventType: l.eventType,
    payload: l.payload,
    raw: l.raw,
    redacted: l.redacted,
    replayable: !l.redacted && !l.truncated,
    deadAt: l.deadAt,
  };
}

/**
 * The admin side of the dead-letter stream (the kernel's DeadLetters: the `DLQ` JetStream stream is the store).
 * Every replay and discard is logged with the letter it was about, so the central logs say who did what when
 * (the request's log line carries the admin).
 */
export class DeadLetterService {
  constructor(
    private readonly letters: DeadLetters,
    private readonly logger?: Logger,
  ) {}

  async list(args: { first: number; after?: string | null }): Promise<Connection<DeadLetter>> {
    const rows = await this.letters.list(args.first + 1, parseAfter(args.after));
    return toConnection(rows, args.first, {
      cursor: (l) => [Number(l.id)],
      count: () => this.letters.count(),
      node: view,
    });
  }

  async replay(id: string): Promise<boolean> {
    const seq = parseDeadLetterId(id);
    const letter = await this.letters.get(seq);
    const replayed = await this.letters.replay(seq);
    if (replayed && letter)
      this.logger?.info(
        { deadLetter: id, subject: letter.subject, consumer: letter.consumer, messageId: letter.msgId },
        'dead letter replayed',
      );
    return replayed;
  }

  async discard(id: string): Promise<boolean> {
    const seq = parseDeadLetterId(id);
    const letter = await this.letters.get(seq);
    const discarded = await this.letters.discard(seq);
    if (discarded && letter)
      this.logger?.info(
        { deadLetter: id, subject: letter.subject, consumer: letter.consumer, messageId: letter.msgId },
        'dead letter discarded',
      );
    return discarded;
  }
}

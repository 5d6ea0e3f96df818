import { DocumentNode, print } from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * What a subscription operation plans to (query plan, operation context, the per-event plan), kept per document text
 * and operation name: 10,000 countdowns of one client operation share one plan instead of planning 10,000 times and
 * holding 10,000 copies for their whole lives. The plan does not depend on the variables or the caller (Apollo's
 * planner turns @skip/@include into conditions evaluated at execution), so sharing it changes no answer. Bounded:
 * the least recently used entry goes first.
 */
export class SubscriptionPlans<T extends object> {
  private readonly entries: LRUCache<string, T>;

  constructor(max = 500) {
    this.entries = new LRUCache({ max });
  }

  get(document: DocumentNode, operationName: string | null | undefined, build: () => T): T {
    // The source text graphql-ws parsed (printing costs more than the lookup saves, and is only the fallback).
    const key = `${operationName ?? ''}\n${document.loc?.source.body ?? print(document)}`;
    let value = this.entries.get(key);
    if (value === undefined) {
      value = build();
      this.entries.set(key, value);
    }
    return value;
  }
}

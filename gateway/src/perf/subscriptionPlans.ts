import { DocumentNode, print } from 'graphql';

/**
 * What a subscription operation plans to (query plan, operation context, the per-event plan), kept per document text
 * and operation name: 10,000 countdowns of one client operation share one plan instead of planning 10,000 times and
 * holding 10,000 copies for their whole lives. The plan does not depend on the variables or the caller (Apollo's
 * planner turns @skip/@include into conditions evaluated at execution), so sharing it changes no answer. Bounded:
 * the least recently used entry goes first.
 */
export class SubscriptionPlans<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly max = 500) {}

  get(document: DocumentNode, operationName: string | null | undefined, build: () => T): T {
    // The source text graphql-ws parsed (printing costs more than the lookup saves, and is only the fallback).
    const key = `${operationName ?? ''}\n${document.loc?.source.body ?? print(document)}`;
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = build();
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    return value;
  }
}

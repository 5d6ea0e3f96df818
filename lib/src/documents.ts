import { DocumentNode, GraphQLError, GraphQLSchema, parse, validate } from 'graphql';
import { LRUCache } from 'lru-cache';

/** A query text checked: its document when it may run, else the errors to answer with. */
export type DocumentCheck =
  { document: DocumentNode; errors?: undefined } | { document?: undefined; errors: readonly GraphQLError[] };

/**
 * A check of query texts (parse + validate) remembered per text, for graphql-ws servers: every subscribe message
 * carries its query text and graphql-ws parses and validates each one, so 10,000 countdowns of one operation would
 * hold 10,000 ASTs (~7 KB each) for life and validate 10,000 times. Apollo Server's document store does the same for
 * HTTP. Only documents that passed are kept (a refused text is checked again and refused the same way); the least
 * recently used entry goes first. Documents are shared: nothing downstream may mutate them (graphql-js does not).
 */
export class DocumentCache {
  private readonly entries: LRUCache<string, DocumentNode>;

  constructor(
    private readonly check: (query: unknown) => DocumentCheck,
    max = 1000,
  ) {
    this.entries = new LRUCache({ max });
  }

  get(query: unknown): DocumentCheck {
    if (typeof query !== 'string') return this.check(query);
    const hit = this.entries.get(query);
    if (hit) return { document: hit };
    const checked = this.check(query);
    if (checked.document) this.entries.set(query, checked.document);
    return checked;
  }
}

/** graphql-js's own parse and validation (specified rules), as graphql-ws applies them when left to itself. */
export function parseAndValidate(schema: GraphQLSchema): (query: unknown) => DocumentCheck {
  return (query) => {
    if (typeof query !== 'string') return { errors: [new GraphQLError('A query string is required')] };
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (err) {
      return { errors: [err as GraphQLError] };
    }
    const errors = validate(schema, document);
    return errors.length ? { errors } : { document };
  };
}

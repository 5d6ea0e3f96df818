import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { GraphQLScalarType, GraphQLSchema, Kind } from 'graphql';
import gql from 'graphql-tag';
import {
  ArgsType,
  AuthChecker,
  buildSchema,
  BuildSchemaOptions,
  ClassType,
  createResolversMap,
  Directive,
  Field,
  Int,
  ObjectType,
  ResolverData,
} from 'type-graphql';
import type { Identity } from './auth';
import { badInput, forbidden, unauthenticated } from './errors';
import { isUuid } from './ids';
import type { Logger } from './logger';

/** What every resolver receives: the caller as the gateway vouched for it, plus per-request helpers. */
export interface BaseContext {
  identity: Identity;
  requestId: string;
  logger: Logger;
}

/** `@Authorized()` = signed in; `@Authorized('ADMIN')` = admins only. Errors carry UNAUTHENTICATED / FORBIDDEN. */
export const authChecker: AuthChecker<BaseContext> = ({ context }, roles) => {
  if (!context.identity.userId) throw unauthenticated();
  if (roles.length && !roles.includes(context.identity.role ?? '')) throw forbidden();
  return true;
};

export const FEDERATION_LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@inaccessible", "@tag", "@interfaceObject"])';

/** ISO-8601 date-time string scalar, named `DateTime` in every subgraph (CONTRACT.md). Maps to JS `Date`. */
export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'An ISO-8601 date-time string in UTC, e.g. 2026-11-22T10:15:00.000Z.',
  serialize(value) {
    const d = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(d.getTime())) throw new TypeError('DateTime cannot represent an invalid date');
    return d.toISOString();
  },
  parseValue(value) {
    const d = new Date(value as string);
    if (typeof value !== 'string' || Number.isNaN(d.getTime()))
      throw new TypeError('DateTime must be an ISO-8601 string');
    return d;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING || Number.isNaN(new Date(ast.value).getTime()))
      throw new TypeError('DateTime must be an ISO-8601 string');
    return new Date(ast.value);
  },
});

type ResolverMap = Record<string, Record<string, unknown>>;

function merge(a: ResolverMap, b: ResolverMap): ResolverMap {
  const out: ResolverMap = { ...a };
  for (const [type, fields] of Object.entries(b)) out[type] = { ...(out[type] ?? {}), ...fields };
  return out;
}

/**
 * type-graphql classes → SDL with directives → Apollo subgraph schema. `referenceResolvers` adds
 * `__resolveReference` for entity types (batch them with a DataLoader from the context).
 */
export async function buildFederatedSchema(
  options: Omit<BuildSchemaOptions, 'skipCheck' | 'authChecker'> & { instances: object[] },
  referenceResolvers: ResolverMap = {},
): Promise<GraphQLSchema> {
  const byClass = new Map<unknown, object>(options.instances.map((i) => [i.constructor, i]));
  const { instances: _i, ...rest } = options;
  const schema = await buildSchema({
    ...rest,
    authChecker,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }, ...(rest.scalarsMap ?? [])],
    skipCheck: true,
    validate: false,
    container: {
      get: (cls: unknown, _data: ResolverData<object>) => byClass.get(cls) ?? new (cls as new () => object)(),
    },
  });
  return buildSubgraphSchema({
    typeDefs: gql(`${FEDERATION_LINK}\n\n${printSchemaWithDirectives(schema)}`),
    resolvers: merge(createResolversMap(schema) as ResolverMap, referenceResolvers) as never,
  });
}

/** Relay page info, identical in every subgraph. */
@Directive('@shareable')
@ObjectType({ description: 'Where a page of a connection stands.' })
export class PageInfo {
  /** True when there are more items after this page. */
  @Field({ description: 'True when there are more items after this page.' })
  hasNextPage!: boolean;

  @Field(() => String, {
    nullable: true,
    description: 'Cursor of the last item on this page; pass it as `after` to get the next page.',
  })
  endCursor!: string | null;
}

export const PAGE = { defaultFirst: 20, maxFirst: 100 };

/** The arguments of every connection field; a field with filters extends it (`class EmailsArgs extends PageArgs`). */
@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: 'Page size (default 20, max 100).' })
  first?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'Cursor to continue after: the endCursor of the previous page.',
  })
  after?: string | null;
}

/** Validates `first` (default 20, 0..100). */
export function pageSize(first: number | null | undefined): number {
  if (first === undefined || first === null) return PAGE.defaultFirst;
  if (!Number.isInteger(first) || first < 0 || first > PAGE.maxFirst)
    throw badInput('first', `first must be between 0 and ${PAGE.maxFirst}`);
  return first;
}

/** Opaque cursors: base64url JSON of the sort key, so they stay valid when rows are inserted. */
export function encodeCursor(key: unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}
export function decodeCursor(cursor: string | null | undefined, arity: number): unknown[] | undefined {
  if (!cursor) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === arity) return key;
  } catch {
    /* fall through */
  }
  throw badInput('after', 'after is not a valid cursor');
}

/** The cursor of a row in a newest-first list keyed on (timestamp, id): orders, users, emails, audit events. */
export function timeCursor(at: Date, id: string): unknown[] {
  return [at.toISOString(), id];
}

/**
 * `after` of such a list, checked: `[ISO time, id]` (the time normalized), or BAD_USER_INPUT on `after`. Ids must
 * be UUIDs unless `anyId` (audit entries keep the publisher's event id).
 */
export function decodeTimeCursor(
  cursor: string | null | undefined,
  opts: { anyId?: boolean } = {},
): [string, string] | undefined {
  const key = decodeCursor(cursor, 2);
  if (!key) return undefined;
  const [at, id] = key;
  const time = typeof at === 'string' ? new Date(at) : undefined;
  if (!time || Number.isNaN(time.getTime()) || typeof id !== 'string' || (!opts.anyId && !isUuid(id)))
    throw badInput('after', 'after is not a valid cursor');
  return [time.toISOString(), id];
}

/** One item of a page, with the cursor to continue after it. */
export interface Edge<T> {
  cursor: string;
  node: T;
}

/**
 * A page as resolvers return it: the `Connection` type of `connectionTypes` serves it. `count` runs only when the
 * client selects `totalCount` (a count is a second scan the page itself does not need).
 */
export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  count: () => Promise<number>;
}

/**
 * Builds a connection from rows fetched with `limit + 1` (the extra row only tells whether there is a next page).
 * `node` maps a row to what the edge shows (default: the row itself), e.g. to drop the sort key the cursor used.
 */
export function toConnection<R, N = R>(
  rows: R[],
  first: number,
  page: { cursor: (row: R) => unknown[]; count: () => Promise<number>; node?: (row: R) => N },
): Connection<N> {
  const nodeOf = page.node ?? ((row: R) => row as unknown as N);
  const edges = rows.slice(0, first).map((row) => ({ cursor: encodeCursor(page.cursor(row)), node: nodeOf(row) }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.length ? edges[edges.length - 1].cursor : null },
    count: page.count,
  };
}

/** How a connection speaks of its nodes; every description of its two types is derived from these words. */
export interface ConnectionWords {
  /** The node in words, singular and plural: `{ one: 'order', many: 'orders' }`. */
  one: string;
  many: string;
  /** How the page is sorted, added to the connection's description: `'newest first'`. */
  order?: string;
  /** Description of `totalCount` where the derived one ("…; counted only when asked for") is not true. */
  totalCount?: string;
  /** Type name prefix, `<name>Edge` / `<name>Connection`; default the node class's name. */
  name?: string;
}

/**
 * Declares a node's Relay `<Node>Edge` and `<Node>Connection` object types: `edges`, `pageInfo` and `totalCount`
 * (resolved by the page's own lazy `count`, so no resolver class needs registering). Use the classes in
 * `@Query(() => OrderConnection)` and return a `Connection<T>` (see `toConnection`).
 */
export function connectionTypes<T extends object>(node: ClassType<T>, words: ConnectionWords) {
  const name = words.name ?? node.name;
  const { one, many } = words;
  const a = /^[aeio]/i.test(one) ? 'An' : 'A';

  @ObjectType(`${name}Edge`, { description: `${a} ${one} in a page of ${many}.` })
  class EdgeType implements Edge<T> {
    @Field({ description: `Opaque cursor of this ${one}; pass it as \`after\` to continue after it.` })
    cursor!: string;

    @Field(() => node, { description: `The ${one}.` })
    node!: T;
  }

  @ObjectType(`${name}Connection`, {
    description: `A page of ${many}${words.order ? `, ${words.order}` : ''}.`,
  })
  class ConnectionType implements Connection<T> {
    @Field(() => [EdgeType], { description: `The ${many} on this page.` })
    edges!: Edge<T>[];

    @Field(() => PageInfo, { description: 'Whether there is a next page and where it starts.' })
    pageInfo!: PageInfo;

    count!: () => Promise<number>;

    @Field(() => Int, {
      description: words.totalCount ?? `Number of ${many} on all pages; counted only when asked for.`,
    })
    totalCount(): Promise<number> {
      return this.count();
    }
  }

  return { Edge: EdgeType as ClassType<Edge<T>>, Connection: ConnectionType as ClassType<Connection<T>> };
}

export { Int };

import { graphql, printType, GraphQLObjectType } from 'graphql';
import { Args, Field, ID, ObjectType, Query, Resolver } from 'type-graphql';
import {
  buildFederatedSchema,
  Connection,
  connectionTypes,
  decodeCursor,
  PageArgs,
  pageSize,
  toConnection,
} from '../src/schema';

@ObjectType()
class Widget {
  @Field(() => ID, { description: 'Widget id.' })
  id!: string;
}

const { Connection: WidgetConnection } = connectionTypes(Widget, { one: 'widget', many: 'widgets', order: 'by id' });

const WIDGETS = ['a', 'b', 'c'].map((id) => ({ id }));
let counted = 0;

@Resolver()
class WidgetResolver {
  @Query(() => WidgetConnection)
  widgets(@Args(() => PageArgs) { first, after }: PageArgs): Connection<{ id: string }> {
    const last = decodeCursor(after, 1)?.[0];
    const from = last ? WIDGETS.findIndex((w) => w.id === last) + 1 : 0;
    const n = pageSize(first);
    return toConnection(WIDGETS.slice(from, from + n + 1), n, {
      cursor: (w) => [w.id],
      count: async () => {
        counted += 1;
        return WIDGETS.length;
      },
    });
  }
}

describe('connectionTypes', () => {
  let schema: Awaited<ReturnType<typeof buildFederatedSchema>>;
  beforeAll(async () => {
    schema = await buildFederatedSchema({ resolvers: [WidgetResolver], instances: [] });
  });
  const run = async (query: string) => {
    const res = await graphql({ schema, source: query, contextValue: {} });
    expect(res.errors).toBeUndefined();
    return res.data as { widgets: { edges: { cursor: string; node: { id: string } }[]; totalCount?: number } };
  };

  test('declares <Node>Edge and <Node>Connection with the Relay fields, all non-null', () => {
    const connection = printType(schema.getType('WidgetConnection') as GraphQLObjectType);
    expect(connection).toContain('"""A page of widgets, by id."""');
    expect(connection).toMatch(/edges: \[WidgetEdge!\]!/);
    expect(connection).toMatch(/pageInfo: PageInfo!/);
    expect(connection).toMatch(/totalCount: Int!/);
    const edge = printType(schema.getType('WidgetEdge') as GraphQLObjectType);
    expect(edge).toMatch(/cursor: String!/);
    expect(edge).toMatch(/node: Widget!/);
  });

  test('pages with cursors, and counts only when totalCount is selected', async () => {
    counted = 0;
    const page = await run('{ widgets(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }');
    expect(page.widgets.edges.map((e) => e.node.id)).toEqual(['a', 'b']);
    expect(counted).toBe(0);
    const next = await run(
      `{ widgets(first: 2, after: "${page.widgets.edges[1].cursor}") { edges { node { id } } totalCount } }`,
    );
    expect(next.widgets.edges.map((e) => e.node.id)).toEqual(['c']);
    expect(next.widgets.totalCount).toBe(3);
    expect(counted).toBe(1);
  });
});

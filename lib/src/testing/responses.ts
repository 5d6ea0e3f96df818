import type { MikroORM } from '@mikro-orm/postgresql';

/** What a GraphQL error carries that tests look at: `extensions.code` and `extensions.field` (kernel AppError). */
interface WithErrors {
  errors?: { extensions?: Record<string, unknown> }[];
}

/** The `extensions.code` of each GraphQL error of a response, in order (`[]` when there are none). */
export function codes(res: WithErrors): unknown[] {
  return (res.errors ?? []).map((e) => e.extensions?.code);
}

/** The `extensions.field` of each GraphQL error of a response (the input that was refused), in order. */
export function fields(res: WithErrors): unknown[] {
  return (res.errors ?? []).map((e) => e.extensions?.field);
}

/** Throws with the GraphQL errors when there are any (or when there is no data); returns data. */
export function ok(res: { data?: Record<string, any> | null; errors?: unknown[] }): Record<string, any> {
  if (res.errors?.length || !res.data) throw new Error(JSON.stringify(res.errors ?? 'no data'));
  return res.data;
}

/** Raw SQL on a subgraph's database, through its MikroORM (assertions and fixtures): the rows as plain objects. */
export function rawSql(orm: Pick<MikroORM, 'em'>) {
  return (text: string, params: unknown[] = []) =>
    orm.em.fork().getConnection().execute(text, params) as Promise<any[]>;
}

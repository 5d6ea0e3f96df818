import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { Entity, MikroORM, PrimaryKey, Property, Options, EntityManager } from '@mikro-orm/postgresql';
import { Migration, Migrator } from '@mikro-orm/migrations';
import type { MigrationObject } from '@mikro-orm/core';
import type { Config, ServiceName } from './config';
import type { Logger } from './logger';

export type { EntityManager };

/** Each subgraph owns one database, `<prefix>_<service>`: no service reads another's tables. */
export function databaseName(config: Pick<Config, 'dbPrefix'>, service: ServiceName): string {
  return `${config.dbPrefix}_${service}`;
}

function serverUrl(postgresUrl: string, database: string): string {
  const u = new URL(postgresUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates the database when it does not exist yet (CREATE DATABASE has no IF NOT EXISTS). */
export async function ensureDatabase(postgresUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl(postgresUrl, 'postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) {
      try {
        await client.query(`CREATE DATABASE "${database}"`);
      } catch (err) {
        // Another process created it between our check and our CREATE.
        if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

export async function dropDatabase(postgresUrl: string, database: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl(postgresUrl, 'postgres') });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** Outbox row: written in the same transaction as the state change it announces, relayed to JetStream. */
@Entity({ tableName: 'outbox' })
export class OutboxEvent {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'text' })
  subject!: string;

  @Property({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  publishedAt?: Date;

  /** W3C trace context of the transaction that wrote the row: the relay publishes the event as part of that trace. */
  @Property({ type: 'text', nullable: true })
  traceparent?: string;

  @Property({ type: 'text', nullable: true })
  tracestate?: string;

  /** Request id of the request that wrote the row (`x-request-id`): its consumers log under it. */
  @Property({ type: 'text', nullable: true })
  requestId?: string;
}

/** One row per (consumer, event id): makes consumers idempotent under redelivery. */
@Entity({ tableName: 'processed_event' })
export class ProcessedEvent {
  @PrimaryKey({ type: 'text' })
  consumer!: string;

  @PrimaryKey({ type: 'uuid' })
  eventId!: string;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  processedAt: Date = new Date();
}

export const KERNEL_ENTITIES = [OutboxEvent, ProcessedEvent];

/** The kernel's tables (outbox, processed events); every subgraph with a database lists it first. */
export class Migration20261122000000Kernel extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE TABLE IF NOT EXISTS outbox (
      id uuid PRIMARY KEY,
      subject text NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz
    )`);
    this.addSql(`CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON outbox (created_at) WHERE published_at IS NULL`);
    this.addSql(`CREATE TABLE IF NOT EXISTS processed_event (
      consumer text NOT NULL,
      event_id uuid NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id)
    )`);
  }
  override async down(): Promise<void> {
    this.addSql('DROP TABLE IF EXISTS processed_event');
    this.addSql('DROP TABLE IF EXISTS outbox');
  }
}

/** The outbox remembers the request (trace context, request id) that wrote each row (docs/observability.md). */
export class Migration20261215000000KernelOutboxOrigin extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent text, ADD COLUMN IF NOT EXISTS tracestate text, ADD COLUMN IF NOT EXISTS request_id text`,
    );
  }
  override async down(): Promise<void> {
    this.addSql(
      'ALTER TABLE outbox DROP COLUMN IF EXISTS traceparent, DROP COLUMN IF EXISTS tracestate, DROP COLUMN IF EXISTS request_id',
    );
  }
}

export interface DatabaseOptions {
  config: Config;
  service: ServiceName;
  entities: Options['entities'];
  migrations: MigrationObject[];
  logger?: Logger;
  /** Called with every SQL statement (tests count round trips with it). */
  onQuery?: (sql: string) => void;
  poolMax?: number;
}

/**
 * Opens the subgraph's database; creates it first when `config.createDatabase` (development, `npm run migrate`).
 * In production it must exist already (the migration Job created it), so the service needs no CREATE DATABASE right.
 */
export async function createOrm(opts: DatabaseOptions): Promise<MikroORM> {
  const dbName = databaseName(opts.config, opts.service);
  if (opts.config.createDatabase) await ensureDatabase(opts.config.postgresUrl, dbName);
  const orm = await MikroORM.init({
    clientUrl: serverUrl(opts.config.postgresUrl, dbName),
    entities: [...KERNEL_ENTITIES, ...((opts.entities as unknown[]) ?? [])] as Options['entities'],
    extensions: [Migrator],
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    migrations: {
      migrationsList: [
        { name: 'Migration20261122000000Kernel', class: Migration20261122000000Kernel },
        { name: 'Migration20261215000000KernelOutboxOrigin', class: Migration20261215000000KernelOutboxOrigin },
        ...opts.migrations,
      ],
      transactional: true,
      allOrNothing: true,
      snapshot: false,
    },
    pool: { min: 0, max: opts.poolMax ?? opts.config.postgresPoolMax ?? 10 },
    allowGlobalContext: false,
    debug: opts.onQuery ? ['query'] : false,
    // MikroORM prints to the console by default; route it to our JSON logs (and to the query counter in tests).
    logger: (msg: string) => (opts.onQuery ? opts.onQuery(msg) : opts.logger?.debug({ orm: msg }, 'mikro-orm')),
    forceUtcTimezone: true,
    // MikroORM would create a missing database itself (its default); whether one is created is ours to decide, above.
    ensureDatabase: false,
  });
  if (!opts.config.createDatabase) {
    // Its migrator would create a missing database too (on `up`): fail here instead, naming it.
    const check = await orm.checkConnection();
    if (!check.ok) {
      await orm.close(true);
      throw new Error(
        `cannot open database "${dbName}": ${check.reason} (with POSTGRES_CREATE_DATABASE off, \`npm run migrate\` creates it)`,
      );
    }
  }
  return orm;
}

/** Applies pending migrations; safe to run from several processes (MikroORM locks its migrations table per run). */
export async function migrate(orm: MikroORM, logger?: Logger): Promise<string[]> {
  const done = await orm.getMigrator().up();
  if (done.length) logger?.info({ migrations: done.map((m) => m.name) }, 'migrations applied');
  return done.map((m) => m.name);
}

/** A database a subgraph can migrate on its own: its MikroORM, or a store with its own `migrate` (media, notification). */
export type Migratable = MikroORM | { migrate(): Promise<string[]>; close(): Promise<void> };

/**
 * A SubgraphModule's `migrate` (`npm run migrate`): opens the subgraph's database, applies its migrations and closes
 * it again, also when they fail.
 */
export function migrator(
  open: (config: Config, logger: Logger) => Promise<Migratable>,
): (config: Config, logger: Logger) => Promise<string[]> {
  return async (config, logger) => {
    const db = await open(config, logger);
    try {
      return 'getMigrator' in db ? await migrate(db, logger) : await db.migrate();
    } finally {
      await db.close();
    }
  };
}

/** A statement with `?` placeholders and their values (quoted into the text as MikroORM's `execute` quotes them). */
export interface SqlStatement {
  text: string;
  params?: readonly unknown[];
  /**
   * Plan it once per connection (hot statements whose planning costs more than running them, and whose best plan
   * does not depend on the values: key lookups). The first time this text runs on a pooled connection it is
   * PREPAREd there, afterwards only EXECUTEd with its values. In a pipelined transaction it runs with
   * `plan_cache_mode = force_generic_plan` (SET LOCAL): left to choose, PostgreSQL re-plans a statement whose list
   * parameter it cannot size every time. Every `?` of the text must be a placeholder, and each value one parameter:
   * pass a list as one array literal (`pgArray`), not as an expanded `ARRAY[?]`. The plan is kept, so it must not
   * depend on a table's size either: an `UPDATE … FROM jsonb_to_recordset(?)` (planned for 100 rows) was kept as a
   * sequential scan of a growing table (bench/README.md, fifteenth round); look rows up by key, one statement each.
   */
  prepare?: boolean;
}

/**
 * A PostgreSQL array literal (`{"a","b"}`) of strings or numbers, for a statement to cast (`?::uuid[]`): one
 * parameter whatever the list's length, so the statement's text (and a prepared plan) is the same for every length.
 */
export function pgArray(values: readonly (string | number)[]): string {
  return `{${values.map((v) => (typeof v === 'number' ? String(v) : `"${v.replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`;
}

type PgResult = { rows: Record<string, unknown>[] };
type PgClient = { query(text: string): Promise<PgResult | PgResult[]> };

/** `?` placeholders as `$1`, `$2`, … (prepared statements). */
const numbered = (text: string) => {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
};
/** Names by text: the texts are the code's own, few and long, and hashing one again on every call showed in profiles. */
const names = new Map<string, string>();
const preparedName = (text: string) => {
  let name = names.get(text);
  if (!name) {
    if (names.size >= 2000) names.clear(); // texts built from data (never expected) cannot grow it without bound
    name = `pp_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
};

/**
 * The statements PREPAREd on each pooled connection by pipelined transactions ('unknown' after a batch with a
 * PREPARE failed: a PREPARE survives a rollback, so the connection's own list is read again before the next one).
 */
const preparedOn = new WeakMap<object, Set<string> | 'unknown'>();

/**
 * One transaction on one pooled connection, its statements sent in as few round trips as the caller's decisions
 * allow: `BEGIN` travels with the first batch and `COMMIT` with the last (`commit`), and a batch of several
 * statements is ONE simple-protocol query. PostgreSQL runs a batch's statements in order, each with its own snapshot
 * (READ COMMITTED: a statement after a lock sees what committed before the lock was granted), and skips the rest of
 * the batch at the first error. On a hot path every round trip costs each side a socket write and a wakeup: a
 * transaction of seven statements through `em.transactional` is seven round trips, here it can be two.
 * Every batch is logged as one query (MikroORM's query log: tests count round trips with it).
 */
export class PipelinedTransaction {
  private state: 'new' | 'open' | 'done' = 'new';
  /** `plan_cache_mode` is forced generic in this transaction (see SqlStatement.prepare). */
  private generic = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly client: PgClient,
  ) {}

  /** Runs the statements as one round trip (after `BEGIN` the first time); resolves with each statement's rows. */
  send(...statements: SqlStatement[]): Promise<Record<string, unknown>[][]> {
    if (this.state === 'done') throw new Error('the transaction has ended');
    return this.batch(statements, false);
  }

  /** Runs the statements and `COMMIT` as one round trip. Nothing of the transaction stays if any of them fails. */
  async commit(...statements: SqlStatement[]): Promise<Record<string, unknown>[][]> {
    if (this.state === 'done') throw new Error('the transaction has ended');
    const rows = await this.batch(statements, true);
    this.state = 'done';
    return rows;
  }

  /** Ends the transaction when the caller did not: `COMMIT` after success, `ROLLBACK` after a failure. */
  async end(failed: boolean): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'done';
    await this.batch([], !failed, failed);
  }

  /** The statements already PREPAREd on this connection. */
  private async prepared(): Promise<Set<string>> {
    let known = preparedOn.get(this.client);
    if (known === 'unknown') {
      const res = (await this.client.query('SELECT name FROM pg_prepared_statements')) as PgResult;
      known = new Set(res.rows.map((r) => r.name as string));
    }
    known ??= new Set();
    preparedOn.set(this.client, known);
    return known;
  }

  private async batch(
    statements: SqlStatement[],
    commit: boolean,
    rollback = false,
  ): Promise<Record<string, unknown>[][]> {
    const platform = this.orm.em.getPlatform();
    const known = statements.some((s) => s.prepare) ? await this.prepared() : undefined;
    // PREPAREs go first: they depend on no data, so a statement of the batch failing cannot skip one.
    const prepares = new Map<string, string>();
    const texts = statements.map((s) => {
      const params = [...(s.params ?? [])];
      if (!s.prepare) return platform.formatQuery(s.text, params);
      const name = preparedName(s.text);
      if (!known!.has(name)) prepares.set(name, `PREPARE ${name} AS ${numbered(s.text)}`);
      return params.length
        ? `EXECUTE ${name}(${platform.formatQuery(params.map(() => '?').join(', '), params)})`
        : `EXECUTE ${name}`;
    });
    const begin = this.state === 'new';
    const generic = !!known && !this.generic;
    const all = [
      ...prepares.values(),
      ...(begin ? ['BEGIN'] : []),
      ...(generic ? [`SET LOCAL plan_cache_mode = force_generic_plan`] : []),
      ...texts,
      ...(commit ? ['COMMIT'] : rollback ? ['ROLLBACK'] : []),
    ];
    if (!all.length) return [];
    this.state = 'open';
    const text = all.join(';\n');
    // `executeQuery` times and logs it as MikroORM logs its own statements (protected in its typings, not in use).
    const connection = this.orm.em.getConnection() as unknown as {
      executeQuery<R>(query: string, cb: () => Promise<R>, context?: object): Promise<R>;
    };
    let res: PgResult | PgResult[];
    try {
      res = await connection.executeQuery(text, () => this.client.query(text), { query: text });
    } catch (err) {
      if (prepares.size) preparedOn.set(this.client, 'unknown');
      throw this.orm.em.getDriver().convertException(err as Error);
    }
    for (const name of prepares.keys()) known!.add(name);
    if (generic) this.generic = true;
    const results = Array.isArray(res) ? res : [res];
    // One result per statement, PREPARE, BEGIN and COMMIT included: the caller's own come back without them.
    const first = prepares.size + (begin ? 1 : 0) + (generic ? 1 : 0);
    return results.slice(first, first + texts.length).map((r) => r.rows ?? []);
  }
}

/**
 * Runs one statement, prepared (see SqlStatement.prepare), as a transaction of its own in one round trip
 * (`BEGIN; SET LOCAL …; EXECUTE …; COMMIT`): for the hot statements that run outside any other transaction.
 */
export async function executePrepared<T = Record<string, unknown>>(
  orm: MikroORM,
  statement: SqlStatement,
): Promise<T[]> {
  const [rows] = await pipelinedTransaction(orm, (tx) => tx.commit({ ...statement, prepare: true }));
  return rows as T[];
}

/**
 * Runs `fn` in a PipelinedTransaction on a connection of the ORM's pool: committed when `fn` returns (if it has not
 * committed itself), rolled back when it throws or a batch fails. A connection whose rollback fails is not reused.
 */
export async function pipelinedTransaction<T>(orm: MikroORM, fn: (tx: PipelinedTransaction) => Promise<T>): Promise<T> {
  const knex = orm.em.getConnection().getKnex();
  const client = (await knex.client.acquireConnection()) as PgClient & {
    __knex__disposed?: unknown;
    end(): Promise<void>;
  };
  const tx = new PipelinedTransaction(orm, client);
  try {
    const result = await fn(tx);
    await tx.end(false);
    return result;
  } catch (err) {
    await tx.end(true).catch(() => {
      // Its state is unknown: marked as knex marks a connection that failed (its pool validates on acquire and
      // destroys it) and closed, so it is never lent out mid-transaction.
      client.__knex__disposed = 'its ROLLBACK failed';
      void client.end().catch(() => undefined);
    });
    throw err;
  } finally {
    await knex.client.releaseConnection(client);
  }
}

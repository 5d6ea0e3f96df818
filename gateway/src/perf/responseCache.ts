import { createHash, randomUUID } from 'node:crypto';
import type { ApolloServerPlugin, GraphQLRequestContext, GraphQLResponse } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { DocumentNode, Kind, OperationDefinitionNode, parse } from 'graphql';
import type { Redis } from '@shop/kernel';
import { LRUCache } from 'lru-cache';
import { cacheStats } from '../metrics';

/**
 * Which subgraphs serve each field of the supergraph, from its join directives: a field's own `@join__field(graph:)`
 * entries, or else every graph that declares its type (`@join__type`).
 */
export function fieldOwners(supergraphSdl: string): Map<string, Set<string>> {
  const doc = parse(supergraphSdl);
  const graphNames = new Map<string, string>();
  const owners = new Map<string, Set<string>>();
  const graphArg = (d: { arguments?: readonly { name: { value: string }; value: { kind: string } }[] }) => {
    const a = d.arguments?.find((x) => x.name.value === 'graph');
    return a && a.value.kind === Kind.ENUM ? (a.value as unknown as { value: string }).value : undefined;
  };
  for (const def of doc.definitions) {
    if (def.kind === Kind.ENUM_TYPE_DEFINITION && def.name.value === 'join__Graph') {
      for (const v of def.values ?? []) {
        const d = v.directives?.find((x) => x.name.value === 'join__graph');
        const name = d?.arguments?.find((a) => a.name.value === 'name')?.value;
        if (name?.kind === Kind.STRING) graphNames.set(v.name.value, name.value);
      }
    }
  }
  for (const def of doc.definitions) {
    if (
      def.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      def.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      def.kind !== Kind.OBJECT_TYPE_EXTENSION &&
      def.kind !== Kind.INTERFACE_TYPE_EXTENSION
    )
      continue;
    const typeGraphs = (def.directives ?? [])
      .filter((d) => d.name.value === 'join__type')
      .map(graphArg)
      .filter((g): g is string => !!g);
    for (const field of def.fields ?? []) {
      const own = (field.directives ?? [])
        .filter((d) => d.name.value === 'join__field')
        .map(graphArg)
        .filter((g): g is string => !!g);
      const set = new Set((own.length ? own : typeGraphs).map((g) => graphNames.get(g) ?? g.toLowerCase()));
      owners.set(`${def.name.value}.${field.name.value}`, set);
    }
  }
  return owners;
}

export type CacheClass = 'cacheable' | 'catalog-write' | 'other' | 'unknown';

/** Every subgraph a query plan fetches from (Fetch nodes anywhere in the plan, conditional branches included). */
export function planServices(plan: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown) => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    const n = node as Record<string, unknown>;
    if (n.kind === 'Fetch' && typeof n.serviceName === 'string') out.add(n.serviceName);
    for (const [k, v] of Object.entries(n))
      if (k !== 'operation' && k !== 'operationDocumentNode' && k !== 'requires') walk(v);
  };
  walk(plan);
  return out;
}

/**
 * Sorts operations. A query is `cacheable` when the gateway's own query plan for it fetches from catalog subgraphs
 * only (recorded from the planner, so it is exactly what runs; `unknown` until the first plan). A mutation with a
 * root field of a catalog subgraph (its `@join__field` in the supergraph) is a `catalog-write`.
 */
export class CacheClassifier {
  private readonly mutationOwners = new Map<string, Set<string>>();
  private readonly plans = new Map<string, boolean>();

  constructor(
    supergraphSdl: string,
    private readonly catalogGraphs: Set<string>,
  ) {
    for (const [field, owners] of fieldOwners(supergraphSdl))
      if (field.startsWith('Mutation.')) this.mutationOwners.set(field.slice(9), owners);
  }

  private static memoKey(query: string, operationName: string | null | undefined): string {
    return `${operationName ?? ''}\n${query}`;
  }

  /** Called with every query plan the gateway resolves. */
  notePlan(query: string | undefined, operationName: string | null | undefined, plan: unknown): void {
    if (!query) return;
    const key = CacheClassifier.memoKey(query, operationName);
    if (this.plans.has(key)) return;
    if (this.plans.size > 5000) this.plans.clear();
    this.plans.set(
      key,
      [...planServices(plan)].every((s) => this.catalogGraphs.has(s)),
    );
  }

  private static operation(
    document: DocumentNode,
    operationName: string | null | undefined,
  ): OperationDefinitionNode | undefined {
    const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    return operationName ? ops.find((o) => o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
  }

  private isCatalogMutationField(name: string): boolean {
    return [...(this.mutationOwners.get(name) ?? [])].some((g) => this.catalogGraphs.has(g));
  }

  classify(query: string, document: DocumentNode, operationName: string | null | undefined): CacheClass {
    const op = CacheClassifier.operation(document, operationName);
    if (!op) return 'other';
    if (op.operation === 'mutation') {
      const touches = op.selectionSet.selections.some(
        (s) => s.kind === Kind.FIELD && this.isCatalogMutationField(s.name.value),
      );
      return touches ? 'catalog-write' : 'other';
    }
    if (op.operation !== 'query') return 'other';
    const known = this.plans.get(CacheClassifier.memoKey(query, operationName));
    return known === undefined ? 'unknown' : known ? 'cacheable' : 'other';
  }

  /** Response keys (alias or name) of a mutation's root fields that catalog subgraphs serve. */
  catalogWriteKeys(document: DocumentNode, operationName: string | null | undefined): string[] {
    const op = CacheClassifier.operation(document, operationName);
    if (op?.operation !== 'mutation') return [];
    return op.selectionSet.selections.flatMap((s) =>
      s.kind === Kind.FIELD && this.isCatalogMutationField(s.name.value) ? [s.alias?.value ?? s.name.value] : [],
    );
  }

  /** Whether the plan recorded for this query reads catalog subgraphs only. */
  isCatalogOnly(query: string, operationName: string | null | undefined): boolean {
    return this.plans.get(CacheClassifier.memoKey(query, operationName)) === true;
  }
}

/**
 * Entries tagged with the catalog generation they were read under: one of another generation, or past its time, is
 * never returned (and is dropped when met). Bounded by `maxEntries`, the least recently used first.
 */
export class GenerationalEntries<T> {
  private readonly entries: LRUCache<string, { generation: string; value: T }>;
  constructor(ttlMs: number, maxEntries: number) {
    this.entries = new LRUCache({ max: maxEntries, ttl: ttlMs });
  }

  get(key: string, generation: string): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.generation !== generation) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, generation: string, value: T): void {
    this.entries.set(key, { generation, value });
  }

  clear(): void {
    this.entries.clear();
  }
}

export interface CatalogCacheOptions {
  supergraphSdl: string;
  redis: Redis;
  ttlSeconds: number;
  /** Subgraphs whose data is public catalog data. */
  catalogGraphs?: string[];
  maxEntries?: number;
  /** How long a write lease may stay open before it is ignored (a gateway that died mid-mutation). */
  writeLeaseMs?: number;
  onError?: (err: unknown) => void;
}

const GENERATION_KEY = 'gateway:catalog:generation';
const WRITES_KEY = 'gateway:catalog:writes';

/**
 * Whole-response cache for anonymous catalog queries, shared rules for every gateway process:
 *
 * - The cache key is a hash of query, operation name and variables, stored with the catalog *generation* (a Redis
 *   counter) it was read under; an entry of any other generation is never served.
 * - Every catalog mutation through any gateway opens a *write lease* in Redis and bumps the generation BEFORE it is
 *   sent to the subgraph, and bumps it again and closes the lease AFTER the subgraph answered, before the client gets
 *   the answer. While a lease is open nobody serves or stores cached responses. So once a mutation has committed,
 *   every read either sees the lease (goes to the subgraphs) or a newer generation: a stale price is never served.
 * - Each cacheable request reads generation and leases in one Redis round trip (shared by the requests that arrive in
 *   the same event-loop turn, see `generation`); if Redis fails, the cache is bypassed.
 * - Entries live at most `ttlSeconds`: changes that do not pass through a gateway (stock sold by orders, the daily
 *   deals rotation) show up within that time.
 */
export class CatalogCache {
  private readonly entries: GenerationalEntries<Record<string, unknown>>;
  private readonly writeLeaseMs: number;
  /** Also the `shop_gateway_cache_*{cache="response"}` counters. */
  readonly stats = cacheStats('response');

  constructor(private readonly opts: CatalogCacheOptions) {
    this.entries = new GenerationalEntries(opts.ttlSeconds * 1000, opts.maxEntries ?? 2000);
    this.writeLeaseMs = opts.writeLeaseMs ?? 5 * 60_000;
  }

  /** The read not sent yet: requests that arrive before it is sent share it. */
  private nextRead?: Promise<string | null>;
  /** Redis reads of the generation sent (one per batch of requests; tests). */
  generationReads = 0;

  /**
   * The current generation, or null when a write is in progress (or Redis cannot tell). Requests arriving in the
   * same turn of the event loop share one Redis read, sent after all of them arrived (setImmediate): a request never
   * joins a read sent before it arrived, so every request still sees every catalog write answered before it came.
   */
  generation(): Promise<string | null> {
    if (this.nextRead) return this.nextRead;
    const read = new Promise<string | null>((resolve) =>
      setImmediate(() => {
        this.nextRead = undefined; // from now on, a new arrival waits for a new read
        resolve(this.readGeneration());
      }),
    );
    this.nextRead = read;
    return read;
  }

  private async readGeneration(): Promise<string | null> {
    this.generationReads++;
    try {
      const res = await this.opts.redis.multi().get(GENERATION_KEY).zcount(WRITES_KEY, Date.now(), '+inf').exec();
      if (!res || res.some(([err]) => err)) return null;
      if (Number(res[1][1]) > 0) return null;
      return String(res[0][1] ?? '0');
    } catch (err) {
      this.opts.onError?.(err);
      return null;
    }
  }

  static key(query: string, operationName: string | null | undefined, variables: unknown): string {
    return createHash('sha1')
      .update(`${operationName ?? ''}\n${JSON.stringify(variables ?? {})}\n${query}`)
      .digest('base64');
  }

  get(key: string, generation: string): Record<string, unknown> | undefined {
    return this.entries.get(key, generation);
  }

  set(key: string, generation: string, result: Record<string, unknown>): void {
    this.entries.set(key, generation, result);
    this.stats.stored++;
  }

  /** Opens a write lease and bumps the generation (before the mutation is sent). */
  async beginWrite(): Promise<string> {
    const id = randomUUID();
    await this.opts.redis
      .multi()
      .zadd(WRITES_KEY, Date.now() + this.writeLeaseMs, id)
      .incr(GENERATION_KEY)
      .exec();
    return id;
  }

  /** Bumps the generation and closes the lease (after the subgraph answered, before the client hears of it). */
  async endWrite(id: string): Promise<void> {
    await this.opts.redis
      .multi()
      .incr(GENERATION_KEY)
      .zrem(WRITES_KEY, id)
      .zremrangebyscore(WRITES_KEY, '-inf', Date.now())
      .exec();
    this.entries.clear();
  }

  /** Bumps the generation without a lease: a catalog write that no lease covered has answered. */
  async noteWrite(): Promise<void> {
    await this.opts.redis.incr(GENERATION_KEY);
    this.entries.clear();
  }
}

interface CacheState {
  key?: string;
  generation?: string;
  lease?: string;
  /** A catalog mutation sent by a caller who may not write the catalog: the response keys of its catalog fields. */
  unprivilegedWrite?: string[];
}

/** Catalog writes are for admins only (CONTRACT.md): only their mutations take the write lease up front. */
const CATALOG_WRITER_ROLE = 'ADMIN';

/**
 * The Apollo Server plugin around CatalogCache: anonymous cacheable queries are answered from the cache after
 * parsing and validation (so every limit that runs at validation still applies) and stored after a clean
 * execution; admins' catalog mutations hold a write lease for their whole execution.
 *
 * Anyone else's catalog mutation (anonymous, USER) is refused by the catalog subgraphs: it takes no lease and bumps no
 * generation, or spamming refused mutations would keep both caches off for everyone. Should one ever succeed all the
 * same, the generation is bumped after it answered (entries read before it are then never served again).
 */
export function catalogCachePlugin<C extends { identity: { userId?: string; role?: string } }>(
  cache: CatalogCache,
  classifier: CacheClassifier,
  opts: {
    /** false: only the write leases (the entity cache needs them), no whole responses. */ serveResponses: boolean;
  } = { serveResponses: true },
): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      const state: CacheState = {};
      return {
        async responseForOperation(ctx: GraphQLRequestContext<C>): Promise<GraphQLResponse | null> {
          if (!ctx.source || !ctx.document) return null;
          const kind = classifier.classify(ctx.source, ctx.document, ctx.request.operationName);
          if (kind === 'catalog-write') {
            if (ctx.contextValue.identity.role === CATALOG_WRITER_ROLE) state.lease = await cache.beginWrite();
            else state.unprivilegedWrite = classifier.catalogWriteKeys(ctx.document, ctx.request.operationName);
            return null;
          }
          if (!opts.serveResponses || (kind !== 'cacheable' && kind !== 'unknown') || ctx.contextValue.identity.userId)
            return null;
          const generation = await cache.generation();
          if (generation === null) {
            cache.stats.bypassed++;
            return null;
          }
          const key = CatalogCache.key(ctx.source, ctx.request.operationName, ctx.request.variables);
          // Not planned yet: run it, and store it afterwards if its plan turns out to read the catalog only.
          const hit = kind === 'cacheable' ? cache.get(key, generation) : undefined;
          if (hit) {
            cache.stats.hits++;
            return {
              http: { headers: new HeaderMap(), status: undefined },
              body: { kind: 'single', singleResult: hit },
            };
          }
          cache.stats.misses++;
          state.key = key;
          state.generation = generation;
          return null;
        },
        async willSendResponse(ctx) {
          if (state.lease) {
            await cache.endWrite(state.lease);
            return;
          }
          if (state.unprivilegedWrite) {
            const body = ctx.response.body;
            const data = body.kind === 'single' ? body.singleResult.data : undefined;
            if (state.unprivilegedWrite.some((k) => data?.[k] !== undefined && data?.[k] !== null))
              await cache.noteWrite();
            return;
          }
          if (
            !state.key ||
            !state.generation ||
            !ctx.source ||
            !classifier.isCatalogOnly(ctx.source, ctx.request.operationName)
          )
            return;
          const body = ctx.response.body;
          if (body.kind !== 'single' || body.singleResult.errors?.length || !body.singleResult.data) return;
          cache.set(state.key, state.generation, { data: body.singleResult.data });
        },
      };
    },
  };
}

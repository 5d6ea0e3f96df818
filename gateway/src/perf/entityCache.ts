import { createHash } from 'node:crypto';
import type { RemoteGraphQLDataSource } from '@apollo/gateway';
import type { Role } from '@shop/kernel';
import { cacheStats } from '../metrics';
import { CatalogCache, GenerationalEntries } from './responseCache';

type GatewayGraphQLResponse = Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;

/** What a catalog fetch is asked for: the subgraph request as the gateway would send it. */
export interface CatalogFetch {
  service: string;
  /** Role of the caller: resolvers of catalog subgraphs may answer admins differently (e.g. `stockHistory`), users never. */
  role: Role | undefined;
  query: string;
  variables: Record<string, unknown> | undefined;
}

export interface EntityCacheOptions {
  ttlSeconds: number;
  maxEntries?: number;
}

/** Subgraph operations the gateway sends start with `query`, `{`, `mutation` or `subscription`; only queries are cached. */
const QUERY = /^\s*(?:query\b|\{)/;
const OPERATION_NAME = /^\s*query\s+[_A-Za-z][_0-9A-Za-z]*/;

/**
 * Per-entity cache of the gateway's fetches from the catalog subgraphs (product, media), for every caller — the
 * piece of the catalog a cart or order page needs (names, prices, images) is the same for every user.
 *
 * - An `_entities` fetch is split by representation: each entity is cached under service + role + query + its
 *   representation, so a product seen in one cart is a hit in every other cart; only the missing entities are fetched,
 *   in one request, and the answer is reassembled in the original order. Other catalog queries are cached whole.
 * - Freshness is the response cache's: entries carry the catalog generation they were read under, nothing is served or
 *   stored while a catalog mutation holds a write lease, and so an admin's change is never served stale once its
 *   answer has arrived. Entries live at most `ttlSeconds` (stock sold through orders, the daily deals rotation).
 * - Only clean answers are stored: a fetch with any error stores nothing.
 */
export class EntityCache {
  /** JSON text: the gateway merges later fetches into the objects it receives, so each hit must get fresh ones. */
  private readonly entries: GenerationalEntries<string>;
  /** Also the `shop_gateway_cache_*{cache="entity"}` counters. */
  readonly stats = cacheStats('entity');

  constructor(
    private readonly catalog: CatalogCache,
    opts: EntityCacheOptions,
  ) {
    this.entries = new GenerationalEntries(opts.ttlSeconds * 1000, opts.maxEntries ?? 20_000);
  }

  /**
   * Answers `fetch` from the cache where it can and sends the rest through `send` (the data source's own request,
   * called with the reduced variables). `generation` is the catalog generation read for this client request.
   */
  async resolve(
    fetch: CatalogFetch,
    generation: Promise<string | null>,
    send: (variables: Record<string, unknown> | undefined) => Promise<GatewayGraphQLResponse>,
  ): Promise<GatewayGraphQLResponse> {
    if (!QUERY.test(fetch.query)) return send(fetch.variables);
    const gen = await generation;
    if (gen === null) {
      this.stats.bypassed++;
      return send(fetch.variables);
    }
    const reps = fetch.variables?.representations;
    if (Array.isArray(reps) && fetch.query.includes('_entities(')) return this.resolveEntities(fetch, reps, gen, send);

    const key = this.key(fetch, fetch.variables);
    const hit = this.get(key, gen);
    if (hit !== undefined) {
      this.stats.hits++;
      return { data: JSON.parse(hit) };
    }
    this.stats.misses++;
    const res = await send(fetch.variables);
    if (!res.errors?.length && res.data) this.set(key, gen, JSON.stringify(res.data));
    return res;
  }

  private async resolveEntities(
    fetch: CatalogFetch,
    reps: unknown[],
    gen: string,
    send: (variables: Record<string, unknown> | undefined) => Promise<GatewayGraphQLResponse>,
  ): Promise<GatewayGraphQLResponse> {
    const { representations: _, ...rest } = fetch.variables!;
    const base = this.key(fetch, rest);
    const keys = reps.map((r) => `${base}:${JSON.stringify(r)}`);
    const found = keys.map((k) => this.get(k, gen));
    const missing: number[] = [];
    found.forEach((f, i) => (f === undefined ? missing.push(i) : undefined));
    this.stats.hits += reps.length - missing.length;
    this.stats.misses += missing.length;
    const entities: unknown[] = found.map((f) => (f === undefined ? null : JSON.parse(f)));
    if (!missing.length) return { data: { _entities: entities } };

    const res = await send({ ...rest, representations: missing.map((i) => reps[i]) });
    const got = (res.data as { _entities?: unknown } | null | undefined)?._entities;
    if (!Array.isArray(got) || got.length !== missing.length) {
      // Not an answer we can reassemble: hand it on only if nothing came from the cache, otherwise fetch everything.
      return missing.length === reps.length ? res : send(fetch.variables);
    }
    missing.forEach((i, j) => {
      entities[i] = got[j];
      if (!res.errors?.length && got[j] !== null && typeof got[j] === 'object')
        this.set(keys[i], gen, JSON.stringify(got[j]));
    });
    // Errors point at positions of the reduced request; give them the caller's positions.
    const errors = res.errors?.map((e) => {
      const path = e.path;
      if (!path || path[0] !== '_entities' || typeof path[1] !== 'number' || missing[path[1]] === undefined) return e;
      return { ...e, path: ['_entities', missing[path[1]], ...path.slice(2)] };
    });
    return { ...res, data: { ...(res.data ?? {}), _entities: entities }, ...(errors ? { errors } : {}) };
  }

  private key(fetch: CatalogFetch, variables: unknown): string {
    // The operation name the planner gives each fetch (`CartView__media__1`) does not change the answer: left out,
    // the same selection of the same entity is shared between client operations.
    const query = fetch.query.replace(OPERATION_NAME, 'query');
    return createHash('sha1')
      .update(`${fetch.service}\n${fetch.role ?? ''}\n${JSON.stringify(variables ?? {})}\n${query}`)
      .digest('base64');
  }

  private get(key: string, generation: string): string | undefined {
    return this.entries.get(key, generation);
  }

  private set(key: string, generation: string, json: string): void {
    this.entries.set(key, generation, json);
    this.stats.stored++;
  }

  /** The catalog generation for one client request (read once however many catalog fetches it makes). */
  generation(): Promise<string | null> {
    return this.catalog.generation();
  }
}

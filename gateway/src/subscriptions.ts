import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { ExecutionArgs, ExecutionResult, FormattedExecutionResult, GraphQLError, GraphQLSchema } from 'graphql';
import { createClient, Client } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { operationFromDocument, Schema, Supergraph } from '@apollo/federation-internals';
import { FetchNode, QueryPlan, QueryPlanner, SubscriptionNode } from '@apollo/query-planner';
import type { GraphQLDataSource } from '@apollo/gateway';
import { executeQueryPlan } from '@apollo/gateway/dist/executeQueryPlan';
import { buildOperationContext } from '@apollo/gateway/dist/operationContext';
import { AppError, ErrorCode, Identity, INTERNAL_TOKEN_HEADER, Keys, Logger, REQUEST_ID_HEADER } from '@shop/kernel';
import { identityFromAuthorization, InternalTokenCache } from './identity';
import type { GatewayContext } from './server';
import type { WebSocketEdge } from './edge';

type SocketExtra = { identity?: Identity; request: http.IncomingMessage } & Record<PropertyKey, unknown>;

/**
 * Subscriptions for a federated graph, which @apollo/gateway cannot execute. Generic over every `Subscription`
 * field: Apollo's query planner splits the operation into the *primary* fetch (the root field, sent as a
 * subscription over graphql-ws to the subgraph that owns it) and the *rest* of the plan (entity fetches for
 * fields of other subgraphs). Each upstream event is fed into the rest of the plan through the gateway's own
 * executor, so `cart { items { product { name } } }` resolves exactly as in a query.
 */
export class SubscriptionBridge {
  private readonly supergraph: Supergraph;
  private readonly apiSchema: Schema;
  readonly apiGraphQLSchema: GraphQLSchema;
  private readonly supergraphSchema: GraphQLSchema;
  private readonly planner: QueryPlanner;
  private readonly upstream = new Map<string, Client>();
  /** Upstream subscriptions currently open (tests check that disconnects close them). */
  openUpstream = 0;

  constructor(
    supergraphSdl: string,
    private readonly dataSources: Map<string, GraphQLDataSource<GatewayContext>>,
    private readonly urls: Map<string, string>,
    private readonly tokens: InternalTokenCache,
    private readonly keys: Keys,
    private readonly logger: Logger,
  ) {
    this.supergraph = Supergraph.build(supergraphSdl);
    this.apiSchema = this.supergraph.apiSchema();
    this.apiGraphQLSchema = this.apiSchema.toGraphQLJSSchema();
    this.supergraphSchema = this.supergraph.schema.toGraphQLJSSchema();
    this.planner = new QueryPlanner(this.supergraph);
  }

  /**
   * Serves graphql-ws on the gateway's HTTP server, same path as queries. Queries and mutations sent over the socket
   * run through `execute`. `edge` applies the HTTP path's limits, rate limits, safelist and error masking.
   */
  attach(httpServer: http.Server, path: string, execute: (args: ExecutionArgs) => Promise<ExecutionResult>, edge?: WebSocketEdge): { close(): Promise<void> } {
    const wss = new WebSocketServer({ server: httpServer, path, maxPayload: edge?.maxPayload });
    const server = useServer<Record<string, unknown>, SocketExtra>(
      {
        ...(edge?.hooks as object),
        schema: this.apiGraphQLSchema,
        onConnect: (ctx) => {
          try {
            const auth = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
            ctx.extra.identity = identityFromAuthorization(this.keys, typeof auth === 'string' ? auth : undefined, ctx.extra.request.socket.remoteAddress);
            return true;
          } catch {
            return false; // closes with 4403 Forbidden
          }
        },
        context: (ctx): GatewayContext => {
          const identity = ctx.extra.identity ?? {};
          return { identity, requestId: randomUUID(), internalToken: (service: string) => this.tokens.tokenFor(identity, service) };
        },
        subscribe: (args) => this.subscribe(args),
        execute: (args) => execute(args),
      },
      wss,
    );
    return {
      close: async () => {
        await server.dispose();
        wss.close();
        for (const c of this.upstream.values()) await c.dispose();
        this.upstream.clear();
      },
    };
  }

  private client(serviceName: string): Client {
    let c = this.upstream.get(serviceName);
    if (!c) {
      const url = this.urls.get(serviceName);
      if (!url) throw new AppError(ErrorCode.INTERNAL_SERVER_ERROR, `no route to subgraph ${serviceName}`);
      c = createClient({
        url: url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        lazy: true,
        lazyCloseTimeout: 5_000,
        keepAlive: 10_000,
        retryAttempts: 5,
        connectionParams: () => ({ [INTERNAL_TOKEN_HEADER]: this.tokens.tokenFor({}, serviceName) }),
      });
      this.upstream.set(serviceName, c);
    }
    return c;
  }

  async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const ctx = args.contextValue as GatewayContext;
    let plan: QueryPlan;
    try {
      const operation = operationFromDocument(this.apiSchema, args.document, { operationName: args.operationName ?? undefined });
      plan = this.planner.buildQueryPlan(operation);
    } catch (err) {
      return { errors: [err instanceof GraphQLError ? err : new GraphQLError(String((err as Error).message))] };
    }
    const node = plan.node as SubscriptionNode | undefined;
    if (node?.kind !== 'Subscription') return { errors: [new GraphQLError('Not a subscription operation')] };
    const primary = node.primary;
    const variables = (args.variableValues ?? {}) as Record<string, unknown>;
    const upstreamVariables = Object.fromEntries((primary.variableUsages ?? []).map((v) => [v, variables[v]]));
    const operationContext = buildOperationContext({ schema: this.apiGraphQLSchema, operationDocument: args.document, operationName: args.operationName ?? undefined });

    const upstream = this.client(primary.serviceName).iterate<Record<string, unknown>>({
      query: primary.operation,
      operationName: primary.operationName,
      variables: upstreamVariables,
      extensions: { [INTERNAL_TOKEN_HEADER]: ctx.internalToken(primary.serviceName), [REQUEST_ID_HEADER]: ctx.requestId },
    });
    this.openUpstream++;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      this.openUpstream--;
      await upstream.return?.();
    };

    // The primary fetch is replayed from the event; the rest of the plan runs against the real subgraphs.
    const eventService = `${primary.serviceName}:subscription`;
    const eventPlan: QueryPlan = {
      kind: 'QueryPlan',
      node: node.rest
        ? { kind: 'Sequence', nodes: [{ ...primary, serviceName: eventService } as FetchNode, node.rest] }
        : ({ ...primary, serviceName: eventService } as FetchNode),
    };
    const complete = async (event: FormattedExecutionResult<Record<string, unknown>>): Promise<ExecutionResult> => {
      if (!event.data) return { errors: (event.errors ?? []).map((e) => new GraphQLError(e.message, { extensions: e.extensions })) };
      const serviceMap = { ...Object.fromEntries(this.dataSources), [eventService]: { process: async () => event } };
      const requestContext = {
        request: { variables, operationName: args.operationName ?? undefined },
        context: ctx,
        metrics: {},
        logger: this.logger,
      };
      return executeQueryPlan(eventPlan, serviceMap as never, requestContext as never, operationContext, this.supergraphSchema, this.apiSchema);
    };

    const iterator: AsyncIterableIterator<ExecutionResult> = {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next() {
        try {
          const r = await upstream.next();
          if (r.done) {
            await close();
            return { done: true, value: undefined };
          }
          return { done: false, value: await complete(r.value as FormattedExecutionResult<Record<string, unknown>>) };
        } catch (err) {
          await close();
          // An upstream error (e.g. FORBIDDEN from the subgraph) ends the subscription with that error.
          const errors = Array.isArray(err) ? err : [err];
          return { done: false, value: { errors: errors.map((e) => (e instanceof GraphQLError ? e : new GraphQLError(String(e?.message ?? e), { extensions: e?.extensions }))) } };
        }
      },
      async return() {
        await close();
        return { done: true, value: undefined };
      },
      async throw(err) {
        await close();
        throw err;
      },
    };
    return iterator;
  }
}

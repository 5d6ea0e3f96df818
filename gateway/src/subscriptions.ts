import type http from 'node:http';
import { ExecutionArgs, ExecutionResult, GraphQLError, GraphQLSchema, Kind } from 'graphql';
import { createClient, Client, Sink } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { Operation, operationFromDocument, Schema, Supergraph } from '@apollo/federation-internals';
import { FetchNode, QueryPlan, QueryPlanner, SubscriptionNode } from '@apollo/query-planner';
import type { GraphQLDataSource } from '@apollo/gateway';
import { executeQueryPlan } from '@apollo/gateway/dist/executeQueryPlan';
import { buildOperationContext } from '@apollo/gateway/dist/operationContext';
import { AppError, ErrorCode, Identity, INTERNAL_TOKEN_HEADER, Keys, Logger, REQUEST_ID_HEADER } from '@shop/kernel';
import { sessionCookiesOf } from './browser/cookies';
import type { OriginPolicy } from './browser/origins';
import { authenticate, authenticateToken, InternalTokenCache } from './identity';
import type { ContextBuilder, GatewayContext } from './context';
import type { WebSocketEdge } from './edge';
import { CLOSE_UNAUTHORIZED, LiveSessions, revokedError } from './sessions';
import { activeSubscriptions, websocketConnections } from './metrics';
import { newCatalogRead } from './subgraphs';
import { SubscriptionPlans } from './perf/subscriptionPlans';
import { computeResponse } from './perf/resultShaping';
import { BridgedStream, RESUBSCRIBE_BASE_MS, UpstreamEvent, UpstreamSource } from './subscriptionStream';

/** One subscription operation, planned once (perf/subscriptionPlans.ts): shared by every subscriber of it. */
interface PlannedSubscription {
  primary: FetchNode;
  operationContext: ReturnType<typeof buildOperationContext>;
  /** The primary fetch replayed from the event (`eventService`), then the rest of the plan against the subgraphs. */
  eventPlan: QueryPlan;
  eventService: string;
  /**
   * Set when the whole operation is the primary fetch (no field of another subgraph, no rewrite): an event is then
   * shaped straight into the client's selection, as `executeQueryPlan` would finally do, without running a plan.
   */
  direct?: Operation;
}

/** What the socket authenticated with (signed-in sockets only): checked at every operation, closed at `exp`. */
interface SocketSession {
  userId: string;
  issuedMs: number;
  exp: number;
}
type SocketExtra = { identity?: Identity; session?: SocketSession } & Record<PropertyKey, unknown>;

type VerifyClient = (
  info: { origin: string; secure: boolean; req: http.IncomingMessage },
  done: (ok: boolean, code?: number, message?: string, headers?: http.OutgoingHttpHeaders) => void,
) => void;
const FORBIDDEN_ORIGIN_BODY = JSON.stringify({
  errors: [
    { message: 'WebSocket connections are accepted only from allowed origins', extensions: { code: 'FORBIDDEN' } },
  ],
});

/** Longest delay a Node timer takes (~24.8 days); a later expiry is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  private readonly plans = new SubscriptionPlans<PlannedSubscription | ExecutionResult>();
  /** What every bridged operation of this bridge shares (one object, not one closure per subscription). */
  private readonly internals: BridgeInternals;
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
    this.internals = {
      logger,
      client: (service) => this.client(service),
      dataSources,
      supergraphSchema: this.supergraphSchema,
      apiSchema: this.apiSchema,
      released: () => {
        this.openUpstream--;
        activeSubscriptions().dec();
      },
    };
  }

  /**
   * Serves graphql-ws on the gateway's HTTP server, same path as queries. Queries and mutations sent over the socket
   * run through `execute`. `edge` applies the HTTP path's limits, rate limits, safelist and error masking.
   * A signed-in socket lives only as long as its access token: every operation checks its expiry and revocation
   * (`sessions`), a timer closes it at `exp`, and a revocation closes it at once — with 4401, so the client refreshes
   * and reconnects. `clientAddress`: the caller's address under the same TRUST_PROXY rules as HTTP. `context`: the
   * gateway's one context builder, given the socket's identity for each operation. `origins`: an upgrade whose
   * `Origin` header is not allowed is refused (403); one without the header (not a browser) is not checked. The
   * socket authenticates with `connectionParams.authorization`, else the upgrade's access cookie (browsers), under
   * the same expiry and revocation rules.
   */
  attach(
    httpServer: http.Server,
    path: string,
    execute: (args: ExecutionArgs) => Promise<ExecutionResult>,
    edge: WebSocketEdge | undefined,
    opts: {
      context: ContextBuilder;
      sessions?: LiveSessions;
      clientAddress?: (req: http.IncomingMessage) => string | undefined;
      origins?: OriginPolicy;
    },
  ): { close(): Promise<void> } {
    const { sessions } = opts;
    const clientAddress = opts.clientAddress ?? ((req: http.IncomingMessage) => req.socket.remoteAddress);
    const { origins } = opts;
    const edgeVerify = edge?.verifyClient;
    // Cross-site WebSocket hijacking: a page on another origin would otherwise open a socket with the user's cookie.
    const verifyClient: VerifyClient = (info, done) => {
      const origin = info.req.headers.origin;
      if (origins && origin && !origins.allows(origin, info.req))
        return done(false, 403, FORBIDDEN_ORIGIN_BODY, { 'Content-Type': 'application/json' });
      if (edgeVerify) return edgeVerify(info, done);
      done(true);
    };
    const wss = new WebSocketServer({
      server: httpServer,
      path,
      maxPayload: edge?.maxPayload,
      ...(edge || origins ? { verifyClient } : {}),
    });
    const connections = websocketConnections();
    wss.on('connection', (socket) => {
      connections.inc();
      socket.once('close', () => connections.dec());
    });
    const edgeSubscribe = edge?.hooks.onSubscribe;
    const server = useServer<Record<string, unknown>, SocketExtra>(
      {
        ...(edge?.hooks as object),
        schema: this.apiGraphQLSchema,
        onConnect: (ctx) => {
          const { socket, request } = ctx.extra;
          try {
            const auth = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
            const header = typeof auth === 'string' ? auth : undefined;
            const cookie = header ? undefined : sessionCookiesOf(request).access;
            const { identity, token } = cookie
              ? authenticateToken(this.keys, cookie, clientAddress(request), sessions)
              : authenticate(this.keys, header, clientAddress(request), sessions);
            ctx.extra.identity = identity;
            if (identity.userId && token) {
              ctx.extra.session = { userId: identity.userId, ...token };
              this.followSession(socket, ctx.extra.session, sessions);
            }
            // Nothing after this reads the upgrade request; graphql-ws would keep it (headers and all) for the
            // socket's whole life, ~1 KB of each of 10,000 idle-between-ticks subscribers.
            (ctx.extra as { request?: unknown }).request = undefined;
            return true;
          } catch (err) {
            // Expired or revoked: 4401, the client gets a fresh token and reconnects. Anything else: 4403 (graphql-ws's answer to false).
            const reason = (err as AppError).extensions?.reason;
            if (reason === 'expired' || reason === 'revoked') socket.close(CLOSE_UNAUTHORIZED, 'Unauthorized');
            return false;
          }
        },
        onSubscribe: async (ctx, id, payload) => {
          const session = ctx.extra.session;
          if (session) {
            const expired = Date.now() >= session.exp * 1000;
            if (expired || sessions?.isRevoked(session.userId, session.issuedMs)) {
              ctx.extra.socket.close(CLOSE_UNAUTHORIZED, 'Unauthorized');
              return [
                expired
                  ? new AppError(ErrorCode.UNAUTHENTICATED, 'The access token has expired', { reason: 'expired' })
                  : revokedError(),
              ];
            }
          }
          return edgeSubscribe ? edgeSubscribe(ctx, id, payload) : undefined;
        },
        context: (ctx): GatewayContext => opts.context(ctx.extra.identity ?? {}),
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

  /** Closes the socket when its token expires, and when the user's sessions are revoked (`sessions`). */
  private followSession(socket: WebSocket, session: SocketSession, sessions?: LiveSessions): void {
    const close = (code: number, reason: string) => {
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)
        socket.close(code, reason);
    };
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const left = session.exp * 1000 - Date.now();
      if (left <= 0) return close(CLOSE_UNAUTHORIZED, 'Unauthorized');
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      timer.unref();
    };
    arm();
    const untrack = sessions?.track(session.userId, session.issuedMs, close);
    socket.once('close', () => {
      clearTimeout(timer);
      untrack?.();
    });
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
        // Lost sockets are re-subscribed per operation by `subscribe` (with back-off and SERVICE_UNAVAILABLE); the
        // client's own retries would hide the outage and give up after a few attempts.
        retryAttempts: 0,
        retryWait: () => new Promise((r) => setTimeout(r, RESUBSCRIBE_BASE_MS)),
        connectionParams: () => ({ [INTERNAL_TOKEN_HEADER]: this.tokens.tokenFor({}, serviceName) }),
      });
      this.upstream.set(serviceName, c);
    }
    return c;
  }

  /** Plans a subscription operation (once per operation text: `plans`); an error result when it cannot be planned. */
  private plan(args: ExecutionArgs): PlannedSubscription | ExecutionResult {
    let plan: QueryPlan;
    try {
      const operation = operationFromDocument(this.apiSchema, args.document, {
        operationName: args.operationName ?? undefined,
      });
      plan = this.planner.buildQueryPlan(operation);
    } catch (err) {
      return { errors: [err instanceof GraphQLError ? err : new GraphQLError(String((err as Error).message))] };
    }
    const node = plan.node as SubscriptionNode | undefined;
    if (node?.kind !== 'Subscription') return { errors: [new GraphQLError('Not a subscription operation')] };
    const primary = node.primary;
    const operationContext = buildOperationContext({
      schema: this.apiGraphQLSchema,
      operationDocument: args.document,
      operationName: args.operationName ?? undefined,
    });
    // The primary fetch is replayed from the event; the rest of the plan runs against the real subgraphs.
    const eventService = `${primary.serviceName}:subscription`;
    const eventPlan: QueryPlan = {
      kind: 'QueryPlan',
      node: node.rest
        ? { kind: 'Sequence', nodes: [{ ...primary, serviceName: eventService } as FetchNode, node.rest] }
        : ({ ...primary, serviceName: eventService } as FetchNode),
    };
    // What executeQueryPlan shapes the result with (it builds this per execution; here once per operation).
    const direct =
      node.rest || primary.outputRewrites?.length
        ? undefined
        : operationFromDocument(
            this.apiSchema,
            {
              kind: Kind.DOCUMENT,
              definitions: [operationContext.operation, ...Object.values(operationContext.fragments)],
            },
            { validate: false },
          );
    return { primary, operationContext, eventPlan, eventService, direct };
  }

  async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const ctx = args.contextValue as GatewayContext;
    const planned = this.plans.get(args.document, args.operationName, () => this.plan(args));
    if (!('eventPlan' in planned)) return planned;
    const variables = (args.variableValues ?? {}) as Record<string, unknown>;
    this.openUpstream++;
    activeSubscriptions().inc();
    return new BridgedStream(new BridgedOperation(this.internals, planned, ctx, variables, args.operationName));
  }
}

interface BridgeInternals {
  logger: Logger;
  client(service: string): Client;
  dataSources: Map<string, GraphQLDataSource<GatewayContext>>;
  supergraphSchema: GraphQLSchema;
  apiSchema: Schema;
  released(): void;
}

/** One client's subscription operation: its upstream subscribe and how each upstream event becomes its result. */
class BridgedOperation implements UpstreamSource {
  readonly service: string;
  private readonly upstreamVariables: Record<string, unknown>;
  /** The event the running plan replays as the primary fetch's answer (plans run one at a time). */
  private current: UpstreamEvent | undefined;
  private running: Promise<unknown> | undefined;
  private serviceMap: Record<string, unknown> | undefined;

  constructor(
    private readonly bridge: BridgeInternals,
    private readonly planned: PlannedSubscription,
    private readonly ctx: GatewayContext,
    private readonly variables: Record<string, unknown>,
    private readonly operationName: string | null | undefined,
  ) {
    const { primary } = planned;
    this.service = primary.serviceName;
    this.upstreamVariables = Object.fromEntries((primary.variableUsages ?? []).map((v) => [v, variables[v]]));
  }

  get logger(): Logger {
    return this.bridge.logger;
  }

  open(sink: Sink<UpstreamEvent>): () => void {
    const { primary } = this.planned;
    return this.bridge.client(this.service).subscribe(
      {
        query: primary.operation,
        operationName: primary.operationName,
        variables: this.upstreamVariables,
        // The caller's token is taken at every (re)subscribe: a resumption long after the first may need a fresh one.
        extensions: {
          [INTERNAL_TOKEN_HEADER]: this.ctx.internalToken(this.service),
          [REQUEST_ID_HEADER]: this.ctx.requestId,
        },
      },
      sink,
    );
  }

  shape(event: UpstreamEvent): ExecutionResult | Promise<ExecutionResult> {
    if (!event.data)
      return { errors: (event.errors ?? []).map((e) => new GraphQLError(e.message, { extensions: e.extensions })) };
    const { direct } = this.planned;
    if (direct && !event.errors?.length) {
      // Subscription roots have no introspection fields (__schema and __type live on Query only).
      const shaped = computeResponse({
        operation: direct,
        variables: this.variables,
        input: event.data,
        introspectionHandling: () => null,
      });
      // As executeQueryPlan answers: value-completion errors go in extensions when the subgraph reported none.
      return shaped.errors.length
        ? { data: shaped.data as Record<string, unknown>, extensions: { valueCompletion: shaped.errors } }
        : { data: shaped.data as Record<string, unknown> };
    }
    // One plan at a time, in the events' order: `current` is the event of the plan that is running.
    const run = (): Promise<ExecutionResult> => this.runPlan(event);
    const result = this.running ? this.running.then(run, run) : run();
    this.running = result;
    return result;
  }

  private runPlan(event: UpstreamEvent): Promise<ExecutionResult> {
    const { eventPlan, eventService, operationContext } = this.planned;
    this.serviceMap ??= {
      ...Object.fromEntries(this.bridge.dataSources),
      [eventService]: { process: async () => this.current },
    };
    this.current = event;
    newCatalogRead(this.ctx);
    const requestContext = {
      request: { variables: this.variables, operationName: this.operationName ?? undefined },
      context: this.ctx,
      metrics: {},
      logger: this.bridge.logger,
    };
    return executeQueryPlan(
      eventPlan,
      this.serviceMap as never,
      requestContext as never,
      operationContext,
      this.bridge.supergraphSchema,
      this.bridge.apiSchema,
    );
  }

  released(): void {
    this.bridge.released();
  }
}

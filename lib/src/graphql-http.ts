import type http from 'node:http';
import etag from 'etag';
import express from 'express';
import fresh from 'fresh';
import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLResponse } from '@apollo/server';
import { ErrorCode } from './errors';
import type { Logger } from './logger';
import { httpRequestTimer } from './metrics';

/**
 * `/graphql` on node:http, without Express's app and router (bench/README.md "Round three: /graphql without
 * Express"). Express replaced the prototypes of every request and response, walked its router layer by layer,
 * parsed the URL several times and hashed every POST answer for an ETag nobody revalidates: an uncached catalog page
 * cost the gateway 0.46 ms of CPU through Express, 0.35 ms here with the same steps.
 * The steps stay connect-style `(req, res, next)` functions, so `cors`, body-parser and the edge's checks run as
 * they did; what Express added to an answer (charset, ETag and 304 on GET, no body on HEAD) is kept here.
 */

/** A request on its way through the steps: the parsed JSON body (body-parser) and whatever the steps attach. */
export type GraphQLHttpRequest = http.IncomingMessage & { body?: unknown };

/** A connect-style step. It answers the request itself, or calls `next()`, or `next(err)` for `onError`. */
export type HttpStep<Req extends GraphQLHttpRequest = GraphQLHttpRequest> = (
  req: Req,
  res: http.ServerResponse,
  next: (err?: unknown) => void,
) => unknown;

export interface GraphQLHttpOptions<C extends BaseContext, Req extends GraphQLHttpRequest> {
  /** Run in order before Apollo: checks that may answer, and the body parser (`jsonBody`). */
  steps: HttpStep<Req>[];
  /** The operation's context (Apollo calls it once the request is a valid GraphQL request). */
  context: (req: Req, res: http.ServerResponse) => Promise<C>;
  /** Answers what a step passed to `next(err)` (body too large, bad JSON, a step that threw). */
  onError: (err: unknown, req: Req, res: http.ServerResponse) => void;
}

/** body-parser's JSON step (Express's `express.json`), usable on a plain node:http request. */
export function jsonBody(limitBytes: number): HttpStep {
  return express.json({ limit: limitBytes }) as unknown as HttpStep;
}

/** The path of a request target (`/graphql?x=1` → `/graphql`); an absolute-form target (a proxy's) by URL parsing. */
export function pathOf(url: string | undefined): string {
  if (!url) return '/';
  if (url.charCodeAt(0) !== 47 /* / */) {
    try {
      return new URL(url).pathname;
    } catch {
      return url;
    }
  }
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}

/** `?…` of a request target without its fragment, as `url.parse(...).search` gave Apollo's Express integration. */
function searchOf(url: string): string {
  const hash = url.indexOf('#');
  const target = hash < 0 ? url : url.slice(0, hash);
  const q = target.indexOf('?');
  return q < 0 ? '' : target.slice(q);
}

/** Whether a path is `mount` or below it, as Express mounted routers match (case-insensitive, by whole segments). */
export function isUnder(path: string, mount: string): boolean {
  if (path.length < mount.length) return false;
  if (path.length > mount.length && path.charCodeAt(mount.length) !== 47 /* / */) return false;
  const head = path.length === mount.length ? path : path.slice(0, mount.length);
  return head === mount || head.toLowerCase() === mount;
}

/** Runs connect-style steps in order; `done()` after the last, `done(err)` at the first error (a rejected promise too). */
function runSteps<Req extends GraphQLHttpRequest>(
  steps: HttpStep<Req>[],
  req: Req,
  res: http.ServerResponse,
  done: (err?: unknown) => void,
): void {
  let i = 0;
  let finished = false;
  const finish = (err?: unknown) => {
    if (finished) return;
    finished = true;
    done(err);
  };
  const next = (err?: unknown): void => {
    if (err !== undefined && err !== null) return finish(err);
    if (i === steps.length) return finish();
    const step = steps[i++]!;
    try {
      const ret = step(req, res, next);
      if (ret && typeof (ret as Promise<unknown>).then === 'function') {
        (ret as Promise<unknown>).then(undefined, (e: unknown) => finish(e ?? new Error('Rejected promise')));
      }
    } catch (e) {
      finish(e);
    }
  };
  next();
}

/**
 * A body answered the way Express's `res.send` did for a string: `charset=utf-8` on the content type, the length,
 * and for GET and HEAD a weak ETag and 304 when the client's copy is fresh (conditional GETs of persisted
 * queries). POST answers get no ETag: nothing revalidates a POST, and hashing every answer cost ~1 % of the CPU.
 */
export function sendBody(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  const type = res.getHeader('content-type');
  if (typeof type === 'string') {
    if (!/;\s*charset=/i.test(type)) res.setHeader('content-type', `${type}; charset=utf-8`);
  } else if (type === undefined) {
    res.setHeader('content-type', 'text/html; charset=utf-8');
  }
  const conditional = req.method === 'GET' || req.method === 'HEAD';
  const status = res.statusCode;
  if (conditional && body.length > 0 && !res.hasHeader('etag')) res.setHeader('etag', etag(body, { weak: true }));
  if (
    conditional &&
    ((status >= 200 && status < 300) || status === 304) &&
    fresh(req.headers, { etag: res.getHeader('etag'), 'last-modified': res.getHeader('last-modified') })
  ) {
    res.statusCode = 304;
  }
  if (res.statusCode === 204 || res.statusCode === 304) {
    res.removeHeader('content-type');
    res.removeHeader('content-length');
    res.removeHeader('transfer-encoding');
    res.end();
    return;
  }
  res.setHeader('content-length', Buffer.byteLength(body));
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/** A JSON answer (errors before Apollo: refused origins, rate limits, body limits). */
export function sendJson(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  res.statusCode = status;
  for (const [name, v] of Object.entries(headers)) res.setHeader(name, v);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  sendBody(req, res, JSON.stringify(value));
}

/** A request header as one string (Express's `req.header`): a repeated header's values joined. */
export function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Coded JSON answers for what fails before Apollo sees the request: the body over `limitBytes` (413), a body that is
 * not JSON or not readable (4xx, BAD_REQUEST), anything else 500 with the request id (logged in full).
 */
export function answerHttpError(
  logger: Logger,
  limitBytes: number,
  err: unknown,
  req: http.IncomingMessage & { requestId?: string },
  res: http.ServerResponse,
): void {
  const e = err as { type?: string; status?: number; statusCode?: number };
  const status = e.status ?? e.statusCode ?? 500;
  let body: { message: string; extensions: Record<string, unknown> };
  if (e.type === 'entity.too.large') {
    body = {
      message: `Request body too large (limit ${limitBytes} bytes)`,
      extensions: { code: ErrorCode.BAD_USER_INPUT, limit: 'body', max: limitBytes },
    };
  } else if (status >= 400 && status < 500) {
    body = {
      message: e.type === 'entity.parse.failed' ? 'The request body is not valid JSON' : 'Bad request',
      extensions: { code: 'BAD_REQUEST' },
    };
  } else {
    // Set by a step before the failure, when there was one (the gateway's and the subgraphs' request-id steps).
    const requestId = req.requestId;
    logger.error({ err, requestId }, 'unexpected error before GraphQL');
    body = { message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId } };
  }
  sendJson(req, res, status >= 400 && status < 600 ? status : 500, { errors: [body] });
}

/** Apollo's answer onto the response: its headers and status, then the body whole or (incremental delivery) chunked. */
async function sendApollo(req: http.IncomingMessage, res: http.ServerResponse, r: HTTPGraphQLResponse): Promise<void> {
  for (const [name, value] of r.headers) res.setHeader(name, value);
  res.statusCode = r.status ?? 200;
  if (r.body.kind === 'complete') return sendBody(req, res, r.body.string);
  for await (const chunk of r.body.asyncIterator) res.write(chunk);
  res.end();
}

/** The request listener serving GraphQL over HTTP with Apollo: the steps, then Apollo, then the answer. */
export function graphqlHttpHandler<C extends BaseContext, Req extends GraphQLHttpRequest = GraphQLHttpRequest>(
  apollo: ApolloServer<C>,
  opts: GraphQLHttpOptions<C, Req>,
): (req: Req, res: http.ServerResponse) => void {
  apollo.assertStarted('graphqlHttpHandler()');
  const fail = (err: unknown, req: Req, res: http.ServerResponse) => {
    if (res.headersSent) {
      res.destroy(err instanceof Error ? err : undefined);
      return;
    }
    opts.onError(err, req, res);
  };
  const execute = async (req: Req, res: http.ServerResponse) => {
    const headers = new HeaderMap();
    for (const name in req.headers) {
      const value = req.headers[name];
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: req.method!.toUpperCase(),
        headers,
        search: searchOf(req.url ?? ''),
        body: req.body,
      },
      context: () => opts.context(req, res),
    });
    await sendApollo(req, res, response);
  };
  return (req, res) => {
    runSteps(opts.steps, req, res, (err) => {
      if (err !== undefined) return fail(err, req, res);
      execute(req, res).catch((e: unknown) => fail(e, req, res));
    });
  };
}

/**
 * A process's HTTP front: every request timed for the request-duration metric, `/graphql` (and below it) to
 * `graphql`, anything else to `app` (Express: health, media, webhooks, the storefront).
 */
export function httpFront(
  service: string,
  graphql: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  app: http.RequestListener,
): http.RequestListener {
  const time = httpRequestTimer(service);
  return (req, res) => {
    const path = pathOf(req.url);
    time(req, res, path);
    if (isUnder(path, '/graphql')) graphql(req, res);
    else app(req, res);
  };
}

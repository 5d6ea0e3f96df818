import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Express, Request, Response } from 'express';
import { isUuid, Logger, REQUEST_ID_HEADER } from '@shop/kernel';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and ones the proxy sets itself: never passed back to the client. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);
/**
 * The only request headers the media routes read (subgraphs/media/src/resolvers/routes.ts): the upload's declared size
 * and type, and the conditional GET. Everything else the client sent (credentials, cookies, forged gateway tokens,
 * X-Forwarded-*) stays here; a chunked upload is re-framed by the proxy's own request.
 */
const FORWARDED: Record<'PUT' | 'GET', string[]> = { PUT: ['content-type', 'content-length'], GET: ['if-none-match'] };
/** Names of an image's stored files, as the media subgraph serves them (its RENDITION_NAMES). */
const RENDITIONS = new Set(['original', 'thumb', 'small', 'medium', 'large']);
/** An upload URL's own query parameters (`?expires=…&sig=…`); any others are dropped. */
const UPLOAD_PARAMS = ['expires', 'sig'];
/** An upstream that sends nothing for this long is given up on (504). */
const UPSTREAM_IDLE_MS = 60_000;
/** After an early answer, the rest of a request body is read and discarded for at most this long, then the socket is closed. */
const LINGER_MS = 5_000;

/** A request to one of the media routes, rebuilt from its validated parts. */
interface MediaRoute {
  /** Path and query sent upstream: made only of a UUID, a known rendition name and re-encoded upload parameters. */
  path: string;
  methods: string[];
}

/**
 * True for request targets that may name another path once decoded or normalised by someone along the way:
 * absolute-form (`GET http://host/…`) and scheme-relative (`//host/…`) targets, backslashes, `.`/`..` segments,
 * and encoded dots, slashes, backslashes or percent signs (`%2e`, `%2f`, `%5c`, `%25…` double encoding).
 * The raw target is judged, before Express or `URL` normalise anything.
 */
export function malformedTarget(raw: string): boolean {
  if (!raw.startsWith('/') || raw.startsWith('//')) return true;
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  if (/[\\#\s\x00-\x1f\x7f]/.test(path) || /%(?:2e|2f|5c|25|00)/i.test(path)) return true;
  try {
    decodeURIComponent(path);
  } catch {
    return true;
  }
  return path.split('/').some((seg) => seg === '.' || seg === '..');
}

/** The media route a (well-formed) target names, or undefined: exactly `/media/uploads/<uuid>` or `/media/<uuid>/<rendition>`. */
export function mediaRoute(raw: string): MediaRoute | undefined {
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const parts = path.split('/');
  if (parts.length !== 4 || parts[0] !== '' || parts[1] !== 'media') return undefined;
  if (parts[2] === 'uploads' && isUuid(parts[3])) {
    const given = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    const query = new URLSearchParams();
    for (const name of UPLOAD_PARAMS) {
      const v = given.get(name);
      if (v !== null) query.set(name, v);
    }
    const search = query.toString();
    return { path: `/media/uploads/${parts[3]}${search ? `?${search}` : ''}`, methods: ['PUT'] };
  }
  if (isUuid(parts[2]) && RENDITIONS.has(parts[3]))
    return { path: `/media/${parts[2]}/${parts[3]}`, methods: ['GET', 'HEAD'] };
  return undefined;
}

const METHODS = new Set(['GET', 'HEAD', 'PUT']);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * After answering before the whole request body arrived (413, 403…): keep reading and discarding it for a
 * moment so the client receives the answer (closing with unread data would reset the connection and could
 * destroy the answer in flight), then close the socket if the body is still coming.
 */
function lingerAfterEarlyAnswer(req: Request, res: Response): void {
  if (req.complete) return;
  res.once('finish', () => {
    const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
    req.once('close', () => clearTimeout(timer));
    req.resume();
  });
}

export interface MediaProxyOptions {
  /** The client's `/media` budget: seconds to wait when over it, undefined when allowed (RATE_LIMIT_MEDIA_PER_IP). */
  rateLimit?: (req: Request) => Promise<number | undefined>;
}

/**
 * `/media/*` on the gateway's origin → the media subgraph's HTTP routes (uploads by signed URL, image files).
 * The upstream URL is the media service's own origin plus a path rebuilt from the validated parts of one of
 * those routes; any other target is answered here (400 malformed, 404 no such route) without a fetch.
 * Bodies are streamed both ways, never buffered; status and end-to-end headers pass through; no user auth.
 * `target` gives the media subgraph's GraphQL URL (its origin serves the routes); none → 404.
 */
export function mountMediaProxy(
  app: Express,
  target: () => string | undefined,
  logger: Logger,
  opts: MediaProxyOptions = {},
): void {
  app.use('/media', async (req: Request, res: Response) => {
    const refuse = (status: number, code: string, error: string, extra: object = {}) => {
      lingerAfterEarlyAnswer(req, res);
      res.status(status).json({ error, code, ...extra });
    };
    // originalUrl is the request target as the client wrote it (Express only strips the mount path from req.url).
    const raw = req.originalUrl;
    if (malformedTarget(raw)) {
      refuse(400, 'BAD_REQUEST', 'Malformed media path');
      return;
    }
    if (opts.rateLimit) {
      const retryAfter = await opts.rateLimit(req);
      if (retryAfter !== undefined) {
        res.setHeader('Retry-After', String(retryAfter));
        refuse(429, 'RATE_LIMITED', `Too many requests; try again in ${retryAfter} s`, { retryAfter });
        return;
      }
    }
    if (!METHODS.has(req.method)) {
      res.setHeader('Allow', 'GET, HEAD, PUT');
      refuse(405, 'METHOD_NOT_ALLOWED', 'Method not allowed');
      return;
    }
    const route = mediaRoute(raw);
    const base = target();
    if (!route || !base) {
      refuse(404, 'NOT_FOUND', 'Not found');
      return;
    }
    if (!route.methods.includes(req.method)) {
      res.setHeader('Allow', route.methods.join(', '));
      refuse(405, 'METHOD_NOT_ALLOWED', 'Method not allowed');
      return;
    }
    const requestId = randomUUID();
    const headers: http.OutgoingHttpHeaders = { [REQUEST_ID_HEADER]: requestId };
    const withBody = req.method === 'PUT';
    for (const name of FORWARDED[withBody ? 'PUT' : 'GET']) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = value;
    }

    const url = new URL(route.path, new URL(base).origin);
    const upstream = http.request(url, { method: req.method, headers, agent });
    let answered = false;

    upstream.setTimeout(UPSTREAM_IDLE_MS, () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('response', (up) => {
      answered = true;
      if (!req.complete) {
        // The media service answered before the body was through (e.g. 413): stop sending it upstream.
        req.unpipe(upstream);
        up.once('end', () => upstream.destroy());
        lingerAfterEarlyAnswer(req, res);
      }
      const out: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(up.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      }
      res.writeHead(up.statusCode ?? 502, out);
      up.pipe(res);
      up.once('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      // Errors after the answer started are the upstream closing a connection we no longer need.
      if (answered) return;
      logger.warn({ err: String(err), url: url.pathname, requestId }, 'media proxy: upstream failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const timeout = /timeout/.test(String(err));
      lingerAfterEarlyAnswer(req, res);
      res
        .status(timeout ? 504 : 502)
        .json({ error: 'The media service is unavailable', code: timeout ? 'GATEWAY_TIMEOUT' : 'BAD_GATEWAY' });
    });
    // The client went away mid-request or mid-response: drop the upstream exchange too.
    req.once('close', () => {
      if (!req.complete) upstream.destroy();
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // Send the headers now, not with the first body chunk: the media service may answer from them alone (413).
    upstream.flushHeaders();
    if (withBody) {
      req.pipe(upstream);
    } else {
      req.resume(); // a body on GET/HEAD means nothing to the media routes
      upstream.end();
    }
  });
}

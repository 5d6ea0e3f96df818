import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Express, Request, Response } from 'express';
import { INTERNAL_TOKEN_HEADER, Logger, REQUEST_ID_HEADER } from '@shop/kernel';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and ones the proxy sets itself. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
/**
 * Client credentials never go to the media routes: the upload URL's signature is their authorisation, and images
 * are public. `Expect: 100-continue` was already answered by this server.
 */
const NOT_FORWARDED = new Set(['authorization', 'cookie', INTERNAL_TOKEN_HEADER, 'expect']);
const METHODS = new Set(['GET', 'HEAD', 'PUT']);
/** An upstream that sends nothing for this long is given up on (504). */
const UPSTREAM_IDLE_MS = 60_000;
/** After an early answer, the rest of a request body is read and discarded for at most this long, then the socket is closed. */
const LINGER_MS = 5_000;

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

/**
 * `/media/*` on the gateway's origin → the media subgraph's HTTP routes (uploads by signed URL, image files).
 * Bodies are streamed both ways, never buffered; status and end-to-end headers pass through; no user auth.
 * `target` gives the media subgraph's GraphQL URL (its origin serves the routes); none → 404.
 */
export function mountMediaProxy(app: Express, target: () => string | undefined, logger: Logger): void {
  app.use('/media', (req: Request, res: Response) => {
    const base = target();
    if (!base) {
      res.status(404).json({ error: 'Not found', code: 'NOT_FOUND' });
      return;
    }
    if (!METHODS.has(req.method)) {
      res.setHeader('Allow', 'GET, HEAD, PUT');
      res.status(405).json({ error: 'Method not allowed', code: 'METHOD_NOT_ALLOWED' });
      return;
    }
    const requestId = randomUUID();
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name) && !NOT_FORWARDED.has(name)) headers[name] = value;
    }
    headers[REQUEST_ID_HEADER] = requestId;
    headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    headers['x-forwarded-proto'] = req.protocol;
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;

    const url = new URL(req.originalUrl, base);
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
      res.status(timeout ? 504 : 502).json({ error: 'The media service is unavailable', code: timeout ? 'GATEWAY_TIMEOUT' : 'BAD_GATEWAY' });
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
    req.pipe(upstream);
  });
}

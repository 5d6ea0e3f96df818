import type { Express, Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '@shop/kernel';
import type { MediaService } from '../service/media.service';
import { UploadError } from '../service/processing';

/** Rendition URLs never change content (an id is uploaded once), so caches may keep them forever. */
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';

/** After an early answer, the rest of a request body is read and discarded for at most this long, then the socket is closed. */
const LINGER_MS = 5_000;

/**
 * Answers before the body was read (413 on Content-Length, 403…) or after reading stopped mid-way: the answer is
 * sent at once; the rest of the body is then discarded for a moment (closing a socket with unread data resets
 * the connection and can destroy the answer in flight) and the socket closed if it is still coming.
 */
function sendError(req: Request, res: Response, status: number, code: string, error: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!req.complete) {
    res.once('finish', () => {
      const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
      timer.unref();
      req.once('end', () => clearTimeout(timer));
      req.once('close', () => clearTimeout(timer));
      req.resume();
    });
  }
  res.status(status).json({ error, code });
}

/** True when `If-None-Match` lists this ETag (or `*`); weak and strong forms compare equal (RFC 9110 §13.1.2). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === bare;
  });
}

/**
 * The media HTTP routes, mounted before GraphQL on the media subgraph and proxied by the gateway at the same
 * paths. They need no gateway token: the upload URL's signature is the authorisation, and images are public.
 */
export function mediaRoutes(media: MediaService, logger: Logger): (app: Express) => void {
  return (app) => {
    app.put('/media/uploads/:id', async (req, res) => {
      try {
        const image = await media.receiveUpload(
          req.params.id,
          req.query as Record<string, unknown>,
          req.header('content-length'),
          req,
        );
        res.status(201).json(media.view(image));
      } catch (err) {
        if (err instanceof UploadError) {
          sendError(req, res, err.status, err.code, err.message);
        } else {
          logger.error({ err }, 'upload failed');
          sendError(req, res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
        }
      }
    });

    app.get('/media/:id/:rendition', async (req, res) => {
      try {
        const file = await media.openRendition(req.params.id, req.params.rendition);
        if (!file) {
          sendError(req, res, 404, 'NOT_FOUND', 'Image not found');
          return;
        }
        res.setHeader('ETag', file.etag);
        res.setHeader('Cache-Control', IMMUTABLE_CACHE);
        if (matchesEtag(req.header('if-none-match'), file.etag)) {
          file.stream.destroy();
          res.status(304).end();
          return;
        }
        res.setHeader('Content-Type', file.contentType);
        res.setHeader('Content-Length', String(file.size));
        res.setHeader('X-Content-Type-Options', 'nosniff');
        if (req.method === 'HEAD') {
          file.stream.destroy();
          res.end();
          return;
        }
        await pipeline(file.stream, res);
      } catch (err) {
        // A client that goes away mid-download is not an error worth logging.
        if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
        logger.error({ err }, 'serving an image failed');
        sendError(req, res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      }
    });
  };
}

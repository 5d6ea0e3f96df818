import { GATEWAY_ORIGIN } from '../config';

/** What the media subgraph accepts (subgraphs/media: ACCEPTED_TYPES, MAX_UPLOAD_BYTES, MAX_ALT_LENGTH). */
export const ACCEPTED_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
export const MAX_ALT_LENGTH = 300;

/**
 * A `/media/…` URL from the API (upload URL, image files), pointed at the gateway's `/media` proxy as the browser
 * reaches it. The API builds them on PUBLIC_URL, which in `npm run dev:storefront` is the storefront's own origin
 * (for emailed links), where nothing serves `/media`; the gateway always does (CORS allows the storefront's origin).
 */
export function gatewayMediaUrl(url: string): string {
  const u = new URL(url, window.location.href);
  if (!u.pathname.startsWith('/media/')) return url;
  return `${GATEWAY_ORIGIN || window.location.origin}${u.pathname}${u.search}`;
}

/** The upload route's answers (`{ code, error }`) in plain words. */
export function uploadProblem(status: number, code: string | undefined): { code: string; text: string } {
  const c = code ?? `HTTP_${status}`;
  switch (c) {
    case 'PAYLOAD_TOO_LARGE':
      return { code: c, text: 'That image is too large (at most 10 MB and 40 megapixels).' };
    case 'UNSUPPORTED_MEDIA_TYPE':
      return { code: c, text: 'That file is not a PNG, JPEG, WebP or GIF image we can read.' };
    case 'INVALID_TOKEN':
      return { code: c, text: 'The upload link expired or was already used. Please try again.' };
    case 'RATE_LIMITED':
      return { code: c, text: 'Too many uploads. Please wait a moment and try again.' };
    case 'UPLOAD_ABORTED':
      return { code: c, text: 'The upload was interrupted. Please try again.' };
    default:
      return { code: c, text: 'The image could not be uploaded. Please try again.' };
  }
}

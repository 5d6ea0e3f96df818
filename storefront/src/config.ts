/**
 * Where the gateway is. Empty (the default): the storefront is served by the gateway itself, so `/graphql` on the
 * same origin. `VITE_GATEWAY_URL` (build time) points a storefront on another origin at it (CORS + cookie sessions).
 */
export const GATEWAY_ORIGIN: string =
  (import.meta.env.VITE_GATEWAY_URL as string | undefined)?.replace(/\/$/, '') ?? '';

export const GRAPHQL_HTTP_URL = `${GATEWAY_ORIGIN}/graphql`;

export function graphqlWsUrl(): string {
  const base = GATEWAY_ORIGIN || window.location.origin;
  return `${base.replace(/^http/, 'ws')}/graphql`;
}

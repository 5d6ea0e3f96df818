import { randomUUID } from 'node:crypto';
import type { Identity } from '@shop/kernel';
import type { BrowserSession } from './browser/cookies';
import type { InternalTokenCache } from './identity';

/** What the gateway knows of one client operation: HTTP makes one per request, WebSocket one per operation. */
export interface GatewayContext {
  identity: Identity;
  requestId: string;
  /** The caller's internal token for one subgraph (signed lazily, cached per identity and subgraph). */
  internalToken: (service: string) => string;
  /** HTTP requests only: cookie mode, the session cookies and where new ones go (docs/security.md "Browser clients"). */
  browser?: BrowserSession;
}

/**
 * Makes the context of an authenticated caller. `requestId`: the HTTP request's (already in its response headers);
 * a WebSocket operation has no request of its own and gets a fresh one.
 */
export type ContextBuilder = (identity: Identity, requestId?: string, browser?: BrowserSession) => GatewayContext;

/** The one builder of GatewayContext, shared by the HTTP and WebSocket paths. */
export function contextBuilder(tokens: InternalTokenCache): ContextBuilder {
  return (identity, requestId = randomUUID(), browser) => new OperationContext(tokens, identity, requestId, browser);
}

/**
 * A class rather than an object of closures: every open subscription keeps its context for its whole life. Plain
 * properties only (no `#private`): Apollo Server copies a context's own properties onto a new object of its prototype.
 */
class OperationContext implements GatewayContext {
  browser?: BrowserSession;

  constructor(
    private readonly tokens: InternalTokenCache,
    readonly identity: Identity,
    readonly requestId: string,
    browser: BrowserSession | undefined,
  ) {
    if (browser) this.browser = browser;
  }

  internalToken(service: string): string {
    return this.tokens.tokenFor(this.identity, service);
  }
}

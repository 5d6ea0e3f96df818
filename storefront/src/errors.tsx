import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

/** What a person reads for each error code of the API (CONTRACT.md); never the raw JSON. */
const PLAIN_WORDS: Record<string, string> = {
  UNAUTHENTICATED: 'Please sign in to continue.',
  FORBIDDEN: 'You are not allowed to do that.',
  BAD_USER_INPUT: 'Please check what you entered.',
  NOT_FOUND: 'We could not find that.',
  EMAIL_NOT_VERIFIED: 'Please verify your email address first: follow the link we sent you.',
  INVALID_CREDENTIALS: 'That email and password do not match an account.',
  EMAIL_TAKEN: 'An account with that email already exists. Try signing in.',
  INVALID_TOKEN: 'This link or session is no longer valid. Please start again.',
  INSUFFICIENT_STOCK: 'Sorry, there is not enough stock for that quantity.',
  CART_EXPIRED: 'Your cart hold expired and its items were released.',
  CART_EMPTY: 'Your cart is empty.',
  PAYMENT_DECLINED: 'Your card was declined. Nothing was charged; try another card.',
  PRICE_CHANGED:
    'A price in your cart just changed. Nothing was charged; check the new total and place the order again.',
  IDEMPOTENCY_CONFLICT: 'This order was already submitted with different details. Please review your cart.',
  RATE_LIMITED: 'Too many attempts. Please wait a moment and try again.',
  SERVICE_UNAVAILABLE: 'Part of the shop is unavailable right now. Please try again shortly.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side. Please try again.',
};

export interface ApiProblem {
  code: string;
  /** The sentence to show. */
  text: string;
  /** The input field the API named (`extensions.field`), to show the message beside it. */
  field?: string;
}

/** The first error of an Apollo Client error (GraphQL or network) as a code and plain words. */
export function describeError(error: unknown): ApiProblem | undefined {
  if (!error) return undefined;
  if (CombinedGraphQLErrors.is(error)) {
    const first = error.errors[0];
    const code = String(first?.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
    const field = typeof first?.extensions?.field === 'string' ? first.extensions.field : undefined;
    // BAD_USER_INPUT messages name the rule that failed ("password must be at least 10 characters"): worth showing.
    const text =
      code === 'BAD_USER_INPUT' && first?.message
        ? first.message
        : (PLAIN_WORDS[code] ?? PLAIN_WORDS.INTERNAL_SERVER_ERROR);
    return { code, text, field };
  }
  if (ServerError.is(error)) {
    // The gateway refuses some requests before GraphQL runs (403 cross-site, 429, 413) with a GraphQL-shaped body.
    const code = codeInBody(error.bodyText) ?? (error.statusCode === 429 ? 'RATE_LIMITED' : undefined);
    if (code) return { code, text: PLAIN_WORDS[code] ?? PLAIN_WORDS.INTERNAL_SERVER_ERROR };
  }
  return { code: 'NETWORK', text: 'We could not reach the shop. Check your connection and try again.' };
}

function codeInBody(body: string | undefined): string | undefined {
  try {
    const code = (JSON.parse(body ?? '') as { errors?: { extensions?: { code?: unknown } }[] }).errors?.[0]?.extensions
      ?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/** An API error in plain words, announced to screen readers. */
export function ErrorMessage({ error }: { error: unknown }) {
  const problem = describeError(error);
  if (!problem) return null;
  return (
    <p className="error" role="alert" data-code={problem.code}>
      {problem.text}
    </p>
  );
}

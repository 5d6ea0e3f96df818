import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { useApolloClient, useMutation } from '@apollo/client/react';
import type { ApolloClient } from '@apollo/client';
import { ResendVerificationEmailDocument, VerifyEmailDocument } from '../gql/graphql';
import { describeError } from '../errors';
import { checkEmail, checks, Field, FormError, usePageTitle, type FieldErrors } from './forms';

type Outcome = { ok: true } | { ok: false; error: unknown };

/**
 * One verifyEmail call per token for the page's lifetime. A token is single-use, and React StrictMode runs effects
 * twice in development (and a remount would too): the second run must get the first call's answer, not spend the
 * token again and report it invalid.
 */
const attempts = new Map<string, Promise<Outcome>>();
function verifyOnce(client: ApolloClient, token: string): Promise<Outcome> {
  let attempt = attempts.get(token);
  if (!attempt) {
    attempt = client.mutate({ mutation: VerifyEmailDocument, variables: { token } }).then(
      (): Outcome => ({ ok: true }),
      (error: unknown): Outcome => ({ ok: false, error }),
    );
    attempts.set(token, attempt);
  }
  return attempt;
}

/** `/verify-email?token=…` (the emailed link): confirms the address on load, then offers sign-in. */
export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const client = useApolloClient();
  const [outcome, setOutcome] = useState<Outcome | undefined>(
    token ? undefined : { ok: false, error: undefined }, // no token at all: the link was cut short
  );
  usePageTitle(outcome?.ok ? 'Email verified' : 'Verify your email');

  useEffect(() => {
    if (!token) return;
    let live = true;
    void verifyOnce(client, token).then((result) => live && setOutcome(result));
    return () => {
      live = false;
    };
  }, [client, token]);

  if (!outcome)
    return (
      <section className="page stack account-page" aria-busy="true">
        <h1>Verifying your email…</h1>
      </section>
    );
  if (outcome.ok)
    return (
      <section className="page stack account-page" aria-labelledby="verified-heading">
        <h1 id="verified-heading">Email verified</h1>
        <p>Thank you: your email address is confirmed and your account is ready.</p>
        <p>
          <Link className="button button-primary" to="/sign-in">
            Sign in to your account
          </Link>
        </p>
      </section>
    );
  return <VerifyFailed error={outcome.error} />;
}

/** The link was unknown, used or expired (INVALID_TOKEN), or something else went wrong: say so and offer a new one. */
function VerifyFailed({ error }: { error: unknown }) {
  const navigate = useNavigate();
  const code = describeError(error)?.code ?? 'INVALID_TOKEN';
  const [resend, resendState] = useMutation(ResendVerificationEmailDocument);
  const [errors, setErrors] = useState<FieldErrors>({});

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const email = String(new FormData(event.currentTarget).get('email') ?? '').trim();
    const found = checks({ email: checkEmail(email) });
    setErrors(found);
    if (found.email) return;
    try {
      await resend({ variables: { email } });
      void navigate(`/check-email?email=${encodeURIComponent(email)}`);
    } catch {
      // Shown by <FormError/> from the mutation's state.
    }
  }

  return (
    <section className="page stack account-page" aria-labelledby="verify-failed-heading">
      <h1 id="verify-failed-heading">This verification link does not work</h1>
      {code === 'INVALID_TOKEN' ? (
        <p className="error" role="alert" data-code="INVALID_TOKEN">
          The link has expired, was already used, or is incomplete. If you already confirmed your email, just sign in;
          otherwise ask for a new link below.
        </p>
      ) : (
        <FormError error={error} />
      )}
      <form className="form stack" noValidate onSubmit={submit} aria-label="Send a new verification link">
        <Field name="email" label="Email" type="email" autoComplete="email" required error={errors.email} />
        <button type="submit" className="button button-primary" disabled={resendState.loading}>
          Send a new link
        </button>
      </form>
      <FormError error={resendState.error} />
      <p>
        <Link to="/sign-in">Go to sign in</Link>
      </p>
    </section>
  );
}

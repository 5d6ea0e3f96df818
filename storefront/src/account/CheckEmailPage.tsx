import { useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useMutation } from '@apollo/client/react';
import { ResendVerificationEmailDocument } from '../gql/graphql';
import { DevMailboxLink, FormError, usePageTitle } from './forms';

/** `/check-email?email=…`: after sign-up (or a sign-in before verifying): follow the emailed link; send it again. */
export function CheckEmailPage() {
  usePageTitle('Check your email');
  const [params] = useSearchParams();
  const email = params.get('email')?.trim() ?? '';
  const [resend, { loading, error }] = useMutation(ResendVerificationEmailDocument);
  const [sent, setSent] = useState(false);

  async function again() {
    setSent(false);
    try {
      // Always true (whether the account exists is not told); a new link goes out when it is unverified.
      await resend({ variables: { email } });
      setSent(true);
    } catch {
      // Shown by <FormError/> from the mutation's state.
    }
  }

  return (
    <section className="page stack account-page" aria-labelledby="check-email-heading">
      <h1 id="check-email-heading">Check your email</h1>
      <p>
        We sent a link to {email ? <strong>{email}</strong> : 'your email address'}. Open it to confirm the address,
        then sign in. The link works for a limited time.
      </p>
      <DevMailboxLink />
      {email && (
        <div className="stack">
          <p>Nothing arrived? Check your spam folder, or:</p>
          <button type="button" className="button" onClick={again} disabled={loading}>
            Send the link again
          </button>
          {sent && (
            <p className="notice" role="status">
              If {email} has an account that is not verified yet, a new link is on its way.
            </p>
          )}
          <FormError error={error} />
        </div>
      )}
      <p>
        Wrong address? <Link to="/sign-up">Create the account again</Link>. Already verified?{' '}
        <Link to="/sign-in">Go to sign in</Link>.
      </p>
    </section>
  );
}

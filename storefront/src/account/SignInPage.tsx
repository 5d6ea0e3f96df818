import { useRef, useState, type FormEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
import { useMutation } from '@apollo/client/react';
import { useCart } from '../cart/CartContext';
import { describeError } from '../errors';
import { LoginDocument } from '../gql/graphql';
import {
  checkEmail,
  checks,
  Field,
  focusFirstInvalid,
  FormError,
  safeReturnPath,
  usePageTitle,
  type FieldErrors,
} from './forms';
import { useAccountSession } from './session';

/**
 * `/sign-in`: `login` (the gateway sets the session cookies), then the guest cart is merged into the user's cart and
 * the person goes back to where they came from (`state.from` or `?next=`), where any merge adjustments are shown.
 */
export function SignInPage() {
  usePageTitle('Sign in');
  const session = useAccountSession();
  const cart = useCart();
  const navigate = useNavigate();
  const location = useLocation();
  const [params] = useSearchParams();
  const returnTo = safeReturnPath((location.state as { from?: unknown } | null)?.from ?? params.get('next'));
  const form = useRef<HTMLFormElement>(null);
  const [login] = useMutation(LoginDocument);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<unknown>();
  const [unverifiedEmail, setUnverifiedEmail] = useState<string>();

  // Already signed in (and not in the middle of signing in here): nothing to do on this page.
  if (session.user && !busy) return <Navigate to={returnTo} replace />;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const email = String(data.get('email') ?? '').trim();
    const password = String(data.get('password') ?? '');
    const found = checks({ email: checkEmail(email), password: password ? undefined : 'Enter your password.' });
    setErrors(found);
    setFormError(undefined);
    setUnverifiedEmail(undefined);
    if (Object.keys(found).length) return requestAnimationFrame(() => focusFirstInvalid(form.current));
    setBusy(true);
    try {
      await login({ variables: { email, password } });
    } catch (error) {
      setBusy(false);
      // Wrong email or password is one answer for both fields (which one is wrong is not told): above the form.
      setFormError(error);
      if (describeError(error)?.code === 'EMAIL_NOT_VERIFIED') setUnverifiedEmail(email);
      return;
    }
    try {
      await session.signedIn();
      const adjustments = await cart.mergeAfterSignIn();
      if (adjustments.length) session.showMergeAdjustments(adjustments);
    } catch (error) {
      // Signed in, but the guest cart could not be brought along: say so on the next page rather than block here.
      console.warn('cart merge after sign-in failed', error);
    }
    void navigate(returnTo, { replace: true });
  }

  return (
    <section className="page stack account-page" aria-labelledby="sign-in-heading">
      <h1 id="sign-in-heading">Sign in</h1>
      <FormError error={formError} />
      {unverifiedEmail && (
        <p>
          <Link to={`/check-email?email=${encodeURIComponent(unverifiedEmail)}`}>Get a new verification link</Link>
        </p>
      )}
      <form ref={form} className="form stack" noValidate onSubmit={submit}>
        <Field name="email" label="Email" type="email" autoComplete="email" required error={errors.email} />
        <Field
          name="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          error={errors.password}
        />
        <button type="submit" className="button button-primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <p>
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
      <p>
        New here? <Link to="/sign-up">Create an account</Link>
      </p>
    </section>
  );
}

import { useRef, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { useMutation } from '@apollo/client/react';
import { describeError } from '../errors';
import { RequestPasswordResetDocument, ResetPasswordDocument } from '../gql/graphql';
import {
  checkEmail,
  checkNewPassword,
  checks,
  DevMailboxLink,
  Field,
  focusFirstInvalid,
  FormError,
  placeError,
  PASSWORD_MIN,
  usePageTitle,
  type FieldErrors,
} from './forms';
import { useSession } from './session';

/** `/forgot-password`: asks for a reset link. The answer is the same whether or not the account exists. */
export function ForgotPasswordPage() {
  usePageTitle('Reset your password');
  const [request, { loading, error }] = useMutation(RequestPasswordResetDocument);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [sentTo, setSentTo] = useState<string>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const email = String(new FormData(event.currentTarget).get('email') ?? '').trim();
    const found = checks({ email: checkEmail(email) });
    setErrors(found);
    if (found.email) return;
    try {
      await request({ variables: { email } });
      setSentTo(email);
    } catch {
      // Shown by <FormError/> from the mutation's state.
    }
  }

  if (sentTo)
    return (
      <section className="page stack account-page" aria-labelledby="reset-sent-heading">
        <h1 id="reset-sent-heading">Check your email</h1>
        <p role="status">
          If an account exists for <strong>{sentTo}</strong>, we sent it a link to choose a new password. The link works
          for a limited time.
        </p>
        <DevMailboxLink />
        <p>
          <Link to="/sign-in">Back to sign in</Link>
        </p>
      </section>
    );
  return (
    <section className="page stack account-page" aria-labelledby="forgot-heading">
      <h1 id="forgot-heading">Reset your password</h1>
      <p>Enter the email address of your account and we will send you a link to choose a new password.</p>
      <FormError error={error} />
      <form className="form stack" noValidate onSubmit={submit}>
        <Field name="email" label="Email" type="email" autoComplete="email" required error={errors.email} />
        <button type="submit" className="button button-primary" disabled={loading}>
          Send reset link
        </button>
      </form>
      <p>
        <Link to="/sign-in">Back to sign in</Link>
      </p>
    </section>
  );
}

/** `/reset-password?token=…` (the emailed link): sets a new password; every session ends, so then sign in. */
export function ResetPasswordPage() {
  usePageTitle('Choose a new password');
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const session = useSession();
  const form = useRef<HTMLFormElement>(null);
  const [reset, { loading }] = useMutation(ResetPasswordDocument);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<unknown>();
  const [done, setDone] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const password = String(data.get('password') ?? '');
    const confirm = String(data.get('confirm') ?? '');
    const found = checks({
      password: checkNewPassword(password),
      confirm: password === confirm ? undefined : 'The two passwords are not the same.',
    });
    setErrors(found);
    setFormError(undefined);
    if (Object.keys(found).length) return requestAnimationFrame(() => focusFirstInvalid(form.current));
    try {
      await reset({ variables: { token, newPassword: password } });
      // The reset signed out every session, this browser's too if it had one.
      if (session.user) await session.signOut().catch(() => undefined);
      setDone(true);
    } catch (error) {
      const placed = placeError(error, ['password'], { newPassword: 'password' });
      setErrors(placed.fields);
      setFormError(placed.form);
    }
  }

  if (done)
    return (
      <section className="page stack account-page" aria-labelledby="reset-done-heading">
        <h1 id="reset-done-heading">Password changed</h1>
        <p role="status">Your new password is set and every earlier session was signed out.</p>
        <p>
          <Link className="button button-primary" to="/sign-in">
            Sign in with your new password
          </Link>
        </p>
      </section>
    );
  const invalidLink = !token || describeError(formError)?.code === 'INVALID_TOKEN';
  return (
    <section className="page stack account-page" aria-labelledby="reset-heading">
      <h1 id="reset-heading">Choose a new password</h1>
      {invalidLink ? (
        <>
          <p className="error" role="alert" data-code="INVALID_TOKEN">
            This reset link has expired, was already used, or is incomplete.
          </p>
          <p>
            <Link to="/forgot-password">Ask for a new reset link</Link>
          </p>
        </>
      ) : (
        <>
          <FormError error={formError} />
          <form ref={form} className="form stack" noValidate onSubmit={submit}>
            <Field
              name="password"
              label="New password"
              type="password"
              autoComplete="new-password"
              required
              minLength={PASSWORD_MIN}
              hint={`At least ${PASSWORD_MIN} characters.`}
              error={errors.password}
            />
            <Field
              name="confirm"
              label="Repeat the new password"
              type="password"
              autoComplete="new-password"
              required
              error={errors.confirm}
            />
            <button type="submit" className="button button-primary" disabled={loading}>
              Set new password
            </button>
          </form>
        </>
      )}
    </section>
  );
}

import { useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useMutation } from '@apollo/client/react';
import { ChangePasswordDocument, UpdateProfileDocument } from '../gql/graphql';
import {
  checkName,
  checkNewPassword,
  checks,
  Field,
  focusFirstInvalid,
  FormError,
  placeError,
  PASSWORD_MIN,
  usePageTitle,
  type FieldErrors,
} from './forms';
import { RequireSignIn, useSession, type SessionUser } from './session';

/** `/account`: the signed-in user's profile (name, email, verified state), name editing and password change. */
export function AccountPage() {
  usePageTitle('Your account');
  return (
    <RequireSignIn>
      <Account />
    </RequireSignIn>
  );
}

function Account() {
  const { user } = useSession();
  if (!user) return null;
  const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
  return (
    <section className="page stack account-page" aria-labelledby="account-heading">
      <h1 id="account-heading">Your account</h1>
      <dl className="card stack account-panel account-profile" aria-label="Profile">
        <div>
          <dt>Name</dt>
          <dd>{name || 'Not given'}</dd>
        </div>
        <div>
          <dt>Email</dt>
          <dd>{user.email}</dd>
        </div>
        <div>
          <dt>Email address</dt>
          <dd data-testid="email-verified">
            {user.emailVerified ? (
              'Verified'
            ) : (
              <>
                Not verified yet.{' '}
                <Link to={`/check-email?email=${encodeURIComponent(user.email)}`}>Get a verification link</Link>
              </>
            )}
          </dd>
        </div>
        {user.role === 'ADMIN' && (
          <div>
            <dt>Role</dt>
            <dd>Administrator</dd>
          </div>
        )}
      </dl>
      <p>
        <Link to="/orders">Your orders</Link>
      </p>
      <EditNames user={user} />
      <ChangePassword />
    </section>
  );
}

/** updateProfile: first and last name (empty clears them). */
function EditNames({ user }: { user: SessionUser }) {
  const form = useRef<HTMLFormElement>(null);
  const [update, { loading }] = useMutation(UpdateProfileDocument);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<unknown>();
  const [saved, setSaved] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const firstName = String(data.get('firstName') ?? '').trim();
    const lastName = String(data.get('lastName') ?? '').trim();
    const found = checks({ firstName: checkName(firstName, 'First name'), lastName: checkName(lastName, 'Last name') });
    setErrors(found);
    setFormError(undefined);
    setSaved(false);
    if (Object.keys(found).length) return requestAnimationFrame(() => focusFirstInvalid(form.current));
    try {
      // The answer is the User: Apollo's cache updates `me`, so the session (and the header) follow.
      await update({ variables: { input: { firstName: firstName || null, lastName: lastName || null } } });
      setSaved(true);
    } catch (error) {
      const placed = placeError(error, ['firstName', 'lastName']);
      setErrors(placed.fields);
      setFormError(placed.form);
    }
  }

  return (
    <section className="card stack account-panel" aria-labelledby="names-heading">
      <h2 id="names-heading">Your name</h2>
      <FormError error={formError} />
      <form ref={form} className="form stack" noValidate onSubmit={submit}>
        <Field
          name="firstName"
          label="First name"
          autoComplete="given-name"
          defaultValue={user.firstName ?? ''}
          error={errors.firstName}
        />
        <Field
          name="lastName"
          label="Last name"
          autoComplete="family-name"
          defaultValue={user.lastName ?? ''}
          error={errors.lastName}
        />
        <button type="submit" className="button" disabled={loading}>
          Save name
        </button>
        {saved && (
          <p className="notice" role="status">
            Your name is saved.
          </p>
        )}
      </form>
    </section>
  );
}

/** changePassword: the API signs out every session afterwards, this one included, so the person signs in again. */
function ChangePassword() {
  const { user, signOut } = useSession();
  const navigate = useNavigate();
  const form = useRef<HTMLFormElement>(null);
  const [change, { loading }] = useMutation(ChangePasswordDocument);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<unknown>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const currentPassword = String(data.get('currentPassword') ?? '');
    const newPassword = String(data.get('newPassword') ?? '');
    const found = checks({
      currentPassword: currentPassword ? undefined : 'Enter your current password.',
      newPassword: checkNewPassword(newPassword, user?.email),
    });
    setErrors(found);
    setFormError(undefined);
    if (Object.keys(found).length) return requestAnimationFrame(() => focusFirstInvalid(form.current));
    try {
      await change({ variables: { currentPassword, newPassword } });
    } catch (error) {
      const placed = placeError(error, ['currentPassword', 'newPassword']);
      setErrors(placed.fields);
      setFormError(placed.form);
      return;
    }
    await signOut().catch(() => undefined);
    void navigate('/sign-in', { replace: true });
  }

  return (
    <section className="card stack account-panel" aria-labelledby="password-heading">
      <h2 id="password-heading">Change your password</h2>
      <p>Afterwards you are signed out everywhere and sign in again with the new password.</p>
      <FormError error={formError} />
      <form ref={form} className="form stack" noValidate onSubmit={submit}>
        <Field
          name="currentPassword"
          label="Current password"
          type="password"
          autoComplete="current-password"
          required
          error={errors.currentPassword}
        />
        <Field
          name="newPassword"
          label="New password"
          type="password"
          autoComplete="new-password"
          required
          minLength={PASSWORD_MIN}
          error={errors.newPassword}
        />
        <button type="submit" className="button" disabled={loading}>
          Change password
        </button>
      </form>
    </section>
  );
}

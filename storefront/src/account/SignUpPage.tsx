import { useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { useMutation } from '@apollo/client/react';
import { RegisterDocument } from '../gql/graphql';
import {
  checkEmail,
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

const FIELDS = ['email', 'password', 'firstName', 'lastName'] as const;

/** `/sign-up`: creates the account; the API emails a verification link, so the next step is "Check your email". */
export function SignUpPage() {
  usePageTitle('Create an account');
  const navigate = useNavigate();
  const form = useRef<HTMLFormElement>(null);
  const [register, { loading }] = useMutation(RegisterDocument);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<unknown>();

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const value = (name: string) => String(data.get(name) ?? '');
    const email = value('email').trim();
    const found = checks({
      email: checkEmail(email),
      password: checkNewPassword(value('password'), email),
      firstName: checkName(value('firstName'), 'First name'),
      lastName: checkName(value('lastName'), 'Last name'),
    });
    setErrors(found);
    setFormError(undefined);
    if (Object.keys(found).length) return requestAnimationFrame(() => focusFirstInvalid(form.current));
    try {
      await register({
        variables: {
          input: {
            email,
            password: value('password'),
            firstName: value('firstName').trim() || null,
            lastName: value('lastName').trim() || null,
          },
        },
      });
      void navigate(`/check-email?email=${encodeURIComponent(email)}`);
    } catch (error) {
      const placed = placeError(error, FIELDS);
      setErrors(placed.fields);
      setFormError(placed.form);
      requestAnimationFrame(() => focusFirstInvalid(form.current));
    }
  }

  return (
    <section className="page stack account-page" aria-labelledby="sign-up-heading">
      <h1 id="sign-up-heading">Create an account</h1>
      <FormError error={formError} />
      <form ref={form} className="form stack" noValidate onSubmit={submit}>
        <Field name="email" label="Email" type="email" autoComplete="email" required error={errors.email} />
        <Field
          name="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          minLength={PASSWORD_MIN}
          hint={`At least ${PASSWORD_MIN} characters; a phrase of a few words works well.`}
          error={errors.password}
        />
        <Field name="firstName" label="First name" autoComplete="given-name" error={errors.firstName} />
        <Field name="lastName" label="Last name" autoComplete="family-name" error={errors.lastName} />
        <button type="submit" className="button button-primary" disabled={loading}>
          Create account
        </button>
      </form>
      <p>
        Already have an account? <Link to="/sign-in">Sign in instead</Link>
      </p>
    </section>
  );
}

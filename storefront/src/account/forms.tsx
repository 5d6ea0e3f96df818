import { useEffect, useState, type InputHTMLAttributes } from 'react';
import './account.css';
import { GATEWAY_ORIGIN } from '../config';
import { describeError, ErrorMessage } from '../errors';

// The API's input rules (subgraphs/user/src/service/validation.ts, passwords.ts), checked here first so a person
// learns at once; the API checks again and its answer is shown beside the field it names.

/** A plain `local@domain` address (the user subgraph's rule). */
const EMAIL =
  /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(?:\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+$/u;
/** Letters, single spaces, hyphens and apostrophes. */
const NAME = /^[\p{L}\p{M}]+(?:(?: |-|'|\u2019)[\p{L}\p{M}]+)*$/u;
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;
export const NAME_MAX = 50;

export function checkEmail(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  if (!email) return 'Enter your email address.';
  if (email.length > 254 || !EMAIL.test(email)) return 'Enter a valid email address (just name@domain).';
  return undefined;
}

/** Length and simplicity as the API checks them (its list of common passwords is checked there). */
export function checkNewPassword(password: string, email?: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return `Password must be at least ${PASSWORD_MIN} characters long.`;
  if (length > PASSWORD_MAX) return `Password must be at most ${PASSWORD_MAX} characters long.`;
  const lower = password.toLowerCase();
  if (new Set(lower).size < 4) return 'Password is too common or too simple; choose a less guessable one.';
  const local = email?.trim().toLowerCase().split('@')[0];
  if (local && local.length >= 4 && lower.includes(local)) return 'Password must not contain your email address.';
  return undefined;
}

export function checkName(raw: string, label: string): string | undefined {
  const name = raw.trim();
  if (!name) return undefined;
  if ([...name].length > NAME_MAX) return `${label} must be at most ${NAME_MAX} characters.`;
  if (!NAME.test(name)) return `${label} may contain only letters, single spaces, hyphens and apostrophes.`;
  return undefined;
}

/** A message beside a field: the form's own check (no code) or the API's error placed by its `extensions.field`. */
export interface FieldProblem {
  text: string;
  code?: string;
}
export type FieldErrors = Partial<Record<string, FieldProblem>>;

/** The form's own checks as field problems (fields without a message are left out). */
export function checks(messages: Record<string, string | undefined>): FieldErrors {
  const out: FieldErrors = {};
  for (const [name, text] of Object.entries(messages)) if (text) out[name] = { text };
  return out;
}

/**
 * Splits an API error: one that names a field of this form goes beside it (`fields`), anything else above the form
 * (`form`). `aliases` maps the API's argument names to the form's (e.g. newPassword → password).
 */
export function placeError(
  error: unknown,
  formFields: readonly string[],
  aliases: Record<string, string> = {},
): { fields: FieldErrors; form?: unknown } {
  const problem = describeError(error);
  const name = problem?.field && (aliases[problem.field] ?? problem.field);
  if (problem && name && formFields.includes(name))
    return { fields: { [name]: { text: problem.text, code: problem.code } } };
  return { fields: {}, form: error };
}

/** Moves focus to the first field with a message, so keyboard and screen-reader users land on it. */
export function focusFirstInvalid(form: HTMLFormElement | null): void {
  form?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
}

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  name: string;
  label: string;
  /** Shown under the input and tied to it with aria-describedby. */
  error?: FieldProblem;
  hint?: string;
}

/** A labelled input with its hint and error message. */
export function Field({ name, label, error, hint, ...input }: FieldProps) {
  const id = `field-${name}`;
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      <input id={id} name={name} aria-invalid={error ? true : undefined} aria-describedby={described} {...input} />
      {error && (
        // The API's answers are announced like <ErrorMessage/>; the form's own checks move focus here instead.
        <p
          id={`${id}-error`}
          className="error"
          data-code={error.code ?? 'BAD_USER_INPUT'}
          role={error.code ? 'alert' : undefined}
        >
          {error.text}
        </p>
      )}
    </div>
  );
}

/** An API error for the whole form (not tied to a field), in plain words. */
export function FormError({ error }: { error: unknown }) {
  return <ErrorMessage error={error} />;
}

// One page-title rule for the whole app; the account pages import it with their form helpers.
export { usePageTitle } from '../Layout';

/**
 * Where to go after signing in: the page the person came from (router state, or `?next=`), only ever a path on this
 * site (no `//host` or `https:` address: an open redirect would let a link send people elsewhere after sign-in).
 */
export function safeReturnPath(candidate: unknown, fallback = '/'): string {
  if (typeof candidate !== 'string' || !candidate.startsWith('/') || candidate.startsWith('//')) return fallback;
  if (candidate.startsWith('/sign-in') || candidate.startsWith('/sign-up')) return fallback;
  return candidate;
}

let mailboxProbe: Promise<boolean> | undefined;

/**
 * Whether the gateway has a development mailbox. `npm start` serves a production build of the storefront, so the
 * build mode says nothing; the gateway mounts `/dev/mail` only outside production, so its answer does. One probe per
 * page load. A storefront on another origin whose probe is blocked (no CORS on that path) falls back to Vite's mode.
 */
export function hasDevMailbox(): Promise<boolean> {
  mailboxProbe ??= fetch(`${GATEWAY_ORIGIN}/dev/mail.json`, { method: 'HEAD', credentials: 'omit' })
    .then((res) => res.ok && (res.headers.get('content-type') ?? '').includes('application/json'))
    .catch(() => import.meta.env.DEV);
  return mailboxProbe;
}

/** In development: the link to the gateway's mailbox, where the emailed links can be opened. */
export function DevMailboxLink() {
  const [show, setShow] = useState(false);
  useEffect(() => {
    let live = true;
    void hasDevMailbox().then((yes) => live && setShow(yes));
    return () => {
      live = false;
    };
  }, []);
  if (!show) return null;
  return (
    <p className="notice">
      Development: the shop does not send real email here.{' '}
      <a href={`${GATEWAY_ORIGIN}/dev/mail`}>Open the development mailbox</a>
    </p>
  );
}

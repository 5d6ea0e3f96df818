import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import {
  AppError,
  badInput,
  clientAddressKey,
  Config,
  ErrorCode,
  forbidden,
  Identity,
  invalidToken,
  isUuid,
  Keys,
  Logger,
  notFound,
  OutboxRelay,
  RateReservation,
  Redis,
  Role,
  reserveRateLimits,
  signAccessToken,
  ACCESS_TOKEN,
  unauthenticated,
  underRateLimit,
} from '@shop/kernel';
import { emitUserEvent, LinkEventType, UserEventPayloads } from '../events/payloads';
import { EmailTokenEntity, EmailTokenPurpose, RefreshTokenEntity, UserEntity } from '../store/entities';
import { checkPasswordPolicy, dummyHash, hashPassword, needsRehash, verifyPassword } from './passwords';
import { digest, newSecret, REFRESH_TOKEN_TTL_MS, RESET_PASSWORD_TTL_MS, VERIFY_EMAIL_TTL_MS } from './tokens';
import { normalizeEmail, normalizeName, plausibleToken, requireUuid } from './validation';

export interface AuthResult {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  /** Lifetime of the refresh token in seconds (the browser's refresh cookie lives as long). */
  refreshExpiresIn: number;
  user: UserEntity;
}

/** A user as the `user.get` command answers it. */
export interface UserContact {
  id: string;
  email: string;
  firstName: string | null;
  emailVerified: boolean;
}

export interface RegisterInput {
  email: string;
  password: string;
  firstName?: string | null;
  lastName?: string | null;
}

/** Accounts: registration, verification, sign-in with rotating refresh tokens, password reset, profile, roles. */
export class AccountService {
  constructor(
    private readonly orm: MikroORM,
    private readonly redis: Redis,
    private readonly relay: OutboxRelay,
    private readonly keys: Keys,
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  private em(): EntityManager {
    return this.orm.em.fork();
  }

  /** Runs `fn` in one transaction, then wakes the outbox relay so its events leave promptly. */
  private async tx<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    const result = await this.em().transactional(fn);
    this.relay.kick();
    return result;
  }

  /**
   * A link email: the public event (kept for days, read by every consumer) says that it happened, without the token;
   * the token goes only in its `secret.email_link` twin (work-queue stream, deleted once the notification subgraph
   * has it; the outbox row drops the token once published). See subgraphs/user/README.md, "Secrets".
   */
  private emitLink(
    em: EntityManager,
    type: LinkEventType,
    who: { userId: string; email: string; firstName: string | null },
    purpose: UserEventPayloads['secret.email_link']['purpose'],
    token: string,
    expiresAt: Date,
  ): void {
    const event = emitUserEvent(em, type, { ...who, expiresAt: expiresAt.toISOString() });
    emitUserEvent(em, 'secret.email_link', {
      eventId: event.id,
      eventType: type,
      purpose,
      ...who,
      token,
      expiresAt: expiresAt.toISOString(),
    });
  }

  async findByIds(ids: readonly string[]): Promise<UserEntity[]> {
    const valid = ids.filter(isUuid);
    if (!valid.length) return [];
    return this.em().find(UserEntity, { id: { $in: valid } });
  }

  /**
   * `user.get`: who to write to about an order. One plain statement, no entity: it runs once per checkout, and the
   * ORM's find (metadata, criteria, entity hydration and identity map) cost more than the query itself.
   */
  async contact(id: string): Promise<UserContact | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.orm.em
      .getConnection()
      .execute<{ id: string; email: string; first_name: string | null; verified: boolean }[]>(
        `SELECT id, email, first_name, email_verified_at IS NOT NULL AS verified FROM users WHERE id = ?`,
        [id],
      );
    return row ? { id: row.id, email: row.email, firstName: row.first_name, emailVerified: row.verified } : null;
  }

  async register(input: RegisterInput): Promise<UserEntity> {
    const email = normalizeEmail(input.email);
    const firstName = normalizeName(input.firstName, 'firstName') ?? null;
    const lastName = normalizeName(input.lastName, 'lastName') ?? null;
    checkPasswordPolicy(input.password, 'password', email);
    const passwordHash = await hashPassword(input.password);
    try {
      return await this.tx(async (em) => {
        const user = em.create(UserEntity, { email, passwordHash, firstName, lastName, role: 'USER' });
        await em.flush();
        const { token, expiresAt } = this.newEmailToken(em, user.id, 'VERIFY_EMAIL');
        this.emitLink(em, 'user.registered', { userId: user.id, email, firstName }, 'VERIFY_EMAIL', token, expiresAt);
        return user;
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) {
        throw new AppError(ErrorCode.EMAIL_TAKEN, 'An account with this email already exists', { field: 'email' });
      }
      throw err;
    }
  }

  private newEmailToken(
    em: EntityManager,
    userId: string,
    purpose: EmailTokenPurpose,
  ): { token: string; expiresAt: Date } {
    const token = newSecret();
    const expiresAt = new Date(Date.now() + (purpose === 'VERIFY_EMAIL' ? VERIFY_EMAIL_TTL_MS : RESET_PASSWORD_TTL_MS));
    em.persist(em.create(EmailTokenEntity, { tokenHash: digest(token), userId, purpose, expiresAt }));
    return { token, expiresAt };
  }

  /** Marks a token used if it is unused, unexpired and of this purpose — one statement, so it can be spent once only. */
  private async spendEmailToken(em: EntityManager, token: string, purpose: EmailTokenPurpose): Promise<string> {
    if (!plausibleToken(token)) throw invalidToken();
    const rows: { user_id: string }[] = await em.execute(
      `UPDATE email_tokens SET used_at = now()
        WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > now()
        RETURNING user_id`,
      [digest(token), purpose],
    );
    if (!rows.length) throw invalidToken();
    return rows[0].user_id;
  }

  async verifyEmail(token: string): Promise<boolean> {
    return this.tx(async (em) => {
      const userId = await this.spendEmailToken(em, token, 'VERIFY_EMAIL');
      const user = await em.findOneOrFail(UserEntity, userId);
      if (!user.emailVerifiedAt) {
        user.emailVerifiedAt = new Date();
        emitUserEvent(em, 'user.email_verified', { userId, email: user.email });
      }
      return true;
    });
  }

  /** Always true: the answer never tells whether the account exists. Sends only to unverified accounts, rate limited. */
  async resendVerificationEmail(rawEmail: string): Promise<boolean> {
    const email = normalizeEmail(rawEmail);
    if (!(await underRateLimit(this.redis, `email:verify:${email}`, this.config.rateLimit.emailPerAddress, 3600)))
      return true;
    await this.tx(async (em) => {
      const user = await em.findOne(UserEntity, { email });
      if (!user || user.emailVerifiedAt) return;
      // A new link supersedes the old ones.
      await em.nativeUpdate(
        EmailTokenEntity,
        { userId: user.id, purpose: 'VERIFY_EMAIL', usedAt: null },
        { usedAt: new Date() },
      );
      const { token, expiresAt } = this.newEmailToken(em, user.id, 'VERIFY_EMAIL');
      this.emitLink(
        em,
        'user.verification_requested',
        { userId: user.id, email, firstName: user.firstName },
        'VERIFY_EMAIL',
        token,
        expiresAt,
      );
    });
    return true;
  }

  /**
   * Sign-in budgets (per email, per client address, per user for changePassword): an attempt is counted BEFORE its
   * password is checked, atomically across its budgets, so parallel guesses cannot all be checked before the counter
   * moves; an attempt whose password turns out right gives its unit back (the budgets count failures). When Redis
   * cannot be asked, sign-in is refused with SERVICE_UNAVAILABLE rather than run without its limits.
   */
  private async reserveAttempt(budgets: [string, number][]): Promise<RateReservation> {
    try {
      return await reserveRateLimits(this.redis, budgets, this.config.rateLimit.windowSeconds);
    } catch (err) {
      if (err instanceof AppError) throw err;
      this.logger.warn({ err: String(err) }, 'sign-in limits unavailable (redis); sign-in refused');
      throw new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'Sign-in is unavailable for a moment; try again shortly', {
        service: 'user',
      });
    }
  }

  /** Gives a reservation back; a failure only means the attempt stays counted (never an error for the caller). */
  private async refund(reservation: RateReservation): Promise<void> {
    await reservation
      .refund()
      .catch((err) => this.logger.warn({ err: String(err) }, 'could not refund a sign-in attempt'));
  }

  async login(rawEmail: string, password: string, identity: Identity): Promise<AuthResult> {
    const email = normalizeEmail(rawEmail);
    const budgets: [string, number][] = [[`login:email:${email}`, this.config.rateLimit.loginPerEmail]];
    // IPv6 per /64: one subscriber can pick a fresh address from its /64 for every attempt.
    if (identity.ip) budgets.push([`login:ip:${clientAddressKey(identity.ip)}`, this.config.rateLimit.loginPerIp]);
    const reservation = await this.reserveAttempt(budgets);
    if (password.length > 1024) throw new AppError(ErrorCode.INVALID_CREDENTIALS, 'Wrong email or password');

    const em = this.em();
    const user = await em.findOne(UserEntity, { email });
    const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash()), password);
    if (!user || !ok) throw new AppError(ErrorCode.INVALID_CREDENTIALS, 'Wrong email or password');
    await this.refund(reservation);
    // Only after the password proved ownership, so this answer reveals nothing to strangers.
    if (!user.emailVerifiedAt)
      throw new AppError(ErrorCode.EMAIL_NOT_VERIFIED, 'Verify your email address before signing in');
    if (needsRehash(user.passwordHash)) {
      user.passwordHash = await hashPassword(password);
      await em.flush();
    }
    return this.tx(async (tx) => this.issueTokens(tx, user));
  }

  private issueTokens(em: EntityManager, user: UserEntity, familyId?: string): AuthResult {
    const refreshToken = newSecret();
    const row = em.create(RefreshTokenEntity, {
      tokenHash: digest(refreshToken),
      userId: user.id,
      familyId: familyId ?? randomUUID(),
      expiresAt: new Date(Date.now() + REFRESH_TOKEN_TTL_MS),
    });
    em.persist(row);
    const accessToken = signAccessToken(this.keys, { sub: user.id, role: user.role });
    return {
      accessToken,
      refreshToken,
      expiresIn: ACCESS_TOKEN.ttlSeconds,
      refreshExpiresIn: REFRESH_TOKEN_TTL_MS / 1000,
      user,
    };
  }

  /**
   * Rotation: the presented token is spent by one conditional UPDATE (so of two simultaneous uses exactly one wins)
   * and a successor in the same family is issued. Presenting a spent token is treated as theft: the family is revoked.
   */
  async refresh(token: string): Promise<AuthResult> {
    if (!plausibleToken(token)) throw invalidToken();
    const hash = digest(token);
    const result = await this.tx(async (em) => {
      const rows: { user_id: string; family_id: string }[] = await em.execute(
        `UPDATE refresh_tokens SET used_at = now()
          WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
          RETURNING user_id, family_id`,
        [hash],
      );
      if (!rows.length) return undefined;
      const user = await em.findOne(UserEntity, rows[0].user_id);
      if (!user) return undefined;
      return this.issueTokens(em, user, rows[0].family_id);
    });
    if (result) return result;

    // The revocation and its event commit together: gateways then refuse the user's earlier access tokens and close
    // their sockets (access tokens do not name their family, so every session of the user is affected).
    const revoked = await this.tx(async (em) => {
      const rows: { family_id: string; user_id: string }[] = await em.execute(
        `UPDATE refresh_tokens SET revoked_at = now()
          WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ? AND used_at IS NOT NULL)
            AND revoked_at IS NULL
          RETURNING family_id, user_id`,
        [hash],
      );
      if (rows.length)
        emitUserEvent(em, 'user.sessions_revoked', { userId: rows[0].user_id, reason: 'refresh_token_reuse' });
      return rows;
    });
    if (revoked.length)
      this.logger.warn(
        { familyId: revoked[0].family_id, revoked: revoked.length },
        'refresh token re-used; session family revoked',
      );
    throw invalidToken('The refresh token is invalid, expired or was already used');
  }

  /** Ends the session the refresh token belongs to (its whole family). Idempotent. */
  async logout(token: string): Promise<boolean> {
    if (!plausibleToken(token)) return true;
    await this.em().execute(
      `UPDATE refresh_tokens SET revoked_at = now()
        WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?) AND revoked_at IS NULL`,
      [digest(token)],
    );
    return true;
  }

  /** Always true (no account enumeration); rate limited per address. */
  async requestPasswordReset(rawEmail: string): Promise<boolean> {
    const email = normalizeEmail(rawEmail);
    if (!(await underRateLimit(this.redis, `email:reset:${email}`, this.config.rateLimit.emailPerAddress, 3600)))
      return true;
    await this.tx(async (em) => {
      const user = await em.findOne(UserEntity, { email });
      if (!user) return;
      await em.nativeUpdate(
        EmailTokenEntity,
        { userId: user.id, purpose: 'RESET_PASSWORD', usedAt: null },
        { usedAt: new Date() },
      );
      const { token, expiresAt } = this.newEmailToken(em, user.id, 'RESET_PASSWORD');
      this.emitLink(
        em,
        'user.password_reset_requested',
        { userId: user.id, email, firstName: user.firstName },
        'RESET_PASSWORD',
        token,
        expiresAt,
      );
    });
    return true;
  }

  /** Sets a new password from an emailed link; every refresh token of the user is revoked. */
  async resetPassword(token: string, newPassword: string): Promise<boolean> {
    if (!plausibleToken(token)) throw invalidToken();
    // Validate before spending the token, so a rejected password leaves the link usable.
    const preview = await this.em()
      .getConnection()
      .execute<{ email: string }[]>(
        `SELECT u.email FROM email_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = ? AND t.purpose = 'RESET_PASSWORD' AND t.used_at IS NULL AND t.expires_at > now()`,
        [digest(token)],
      );
    if (!preview.length) throw invalidToken();
    checkPasswordPolicy(newPassword, 'newPassword', preview[0].email);
    const passwordHash = await hashPassword(newPassword);
    return this.tx(async (em) => {
      const userId = await this.spendEmailToken(em, token, 'RESET_PASSWORD');
      const user = await em.findOneOrFail(UserEntity, userId);
      user.passwordHash = passwordHash;
      // Receiving the link proves the address belongs to them.
      user.emailVerifiedAt ??= new Date();
      await this.revokeAllSessions(em, userId);
      emitUserEvent(em, 'user.password_changed', {
        userId,
        email: user.email,
        firstName: user.firstName,
        via: 'reset',
      });
      return true;
    });
  }

  private async revokeAllSessions(em: EntityManager, userId: string): Promise<void> {
    await em.execute(`UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = ? AND revoked_at IS NULL`, [userId]);
  }

  async me(identity: Identity): Promise<UserEntity | null> {
    if (!identity.userId) return null;
    return this.em().findOne(UserEntity, identity.userId);
  }

  async updateProfile(
    identity: Identity,
    input: { firstName?: string | null; lastName?: string | null },
  ): Promise<UserEntity> {
    if (!identity.userId) throw unauthenticated();
    const firstName = normalizeName(input.firstName, 'firstName');
    const lastName = normalizeName(input.lastName, 'lastName');
    return this.tx(async (em) => {
      const user = await em.findOne(UserEntity, identity.userId!);
      if (!user) throw unauthenticated('Your account no longer exists');
      const changed =
        (firstName !== undefined && firstName !== user.firstName) ||
        (lastName !== undefined && lastName !== user.lastName);
      if (firstName !== undefined) user.firstName = firstName;
      if (lastName !== undefined) user.lastName = lastName;
      if (changed)
        emitUserEvent(em, 'user.profile_updated', {
          userId: user.id,
          email: user.email,
          firstName: user.firstName ?? null,
          lastName: user.lastName ?? null,
        });
      return user;
    });
  }

  /** Checks the current password (rate limited like sign-in), sets the new one and signs out every session. */
  async changePassword(identity: Identity, currentPassword: string, newPassword: string): Promise<boolean> {
    if (!identity.userId) throw unauthenticated();
    const reservation = await this.reserveAttempt([
      [`login:user:${identity.userId}`, this.config.rateLimit.loginPerEmail],
    ]);
    const user = await this.em().findOne(UserEntity, identity.userId);
    if (!user) throw unauthenticated('Your account no longer exists');
    if (currentPassword.length > 1024 || !(await verifyPassword(user.passwordHash, currentPassword))) {
      throw new AppError(ErrorCode.INVALID_CREDENTIALS, 'The current password is wrong', { field: 'currentPassword' });
    }
    await this.refund(reservation);
    checkPasswordPolicy(newPassword, 'newPassword', user.email);
    if (newPassword === currentPassword)
      throw badInput('newPassword', 'The new password must differ from the current one');
    const passwordHash = await hashPassword(newPassword);
    return this.tx(async (em) => {
      const u = await em.findOneOrFail(UserEntity, user.id);
      u.passwordHash = passwordHash;
      await this.revokeAllSessions(em, u.id);
      emitUserEvent(em, 'user.password_changed', {
        userId: u.id,
        email: u.email,
        firstName: u.firstName,
        via: 'change',
      });
      return true;
    });
  }

  /** Admins change roles; the last admin cannot be demoted (the store would have nobody to administer it). */
  async setUserRole(identity: Identity, rawUserId: string, role: Role): Promise<UserEntity> {
    if (identity.role !== 'ADMIN') throw forbidden();
    const userId = requireUuid(rawUserId, 'userId');
    return this.tx(async (em) => {
      // Serialize role changes so two concurrent demotions cannot remove the last two admins.
      await em.execute(`SELECT pg_advisory_xact_lock(hashtext('users.role'))`);
      const user = await em.findOne(UserEntity, userId);
      if (!user) throw notFound('User');
      if (user.role === role) return user;
      if (user.role === 'ADMIN' && role !== 'ADMIN') {
        const admins = await em.count(UserEntity, { role: 'ADMIN' });
        if (admins <= 1) throw badInput('role', 'The last admin cannot be demoted');
      }
      user.role = role;
      emitUserEvent(em, 'user.role_changed', { userId, email: user.email, role, changedBy: identity.userId! });
      return user;
    });
  }

  /** Admin list, newest first, keyset-paginated on (created_at, id); `search` matches email or name as plain text. */
  async list(opts: {
    first: number;
    after?: [string, string];
    search?: string;
  }): Promise<{ rows: UserEntity[]; count: () => Promise<number> }> {
    const em = this.em();
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.search) {
      where.push(`(email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')) ILIKE ? ESCAPE '\\'`);
      params.push(`%${opts.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    const filterSql = where.length ? where.join(' AND ') : 'true';
    const filterParams = [...params];
    if (opts.after) {
      where.push(`(created_at, id) < (?::timestamptz, ?::uuid)`);
      params.push(opts.after[0], opts.after[1]);
    }
    const rows: Record<string, unknown>[] = await em.execute(
      `SELECT * FROM users WHERE ${where.length ? where.join(' AND ') : 'true'} ORDER BY created_at DESC, id DESC LIMIT ?`,
      [...params, opts.first + 1],
    );
    return {
      rows: rows.map((r) => em.map(UserEntity, r)),
      count: async () => {
        const [{ n }] = await this.em().execute<{ n: string }[]>(
          `SELECT count(*) AS n FROM users WHERE ${filterSql}`,
          filterParams,
        );
        return Number(n);
      },
    };
  }

  /**
   * Creates or promotes the configured admin at start (ADMIN_EMAIL / ADMIN_PASSWORD). It never promotes an account
   * someone else registered: an existing account is promoted only when it is verified AND its password is
   * ADMIN_PASSWORD; otherwise start is refused. An account that is already ADMIN is left as it is (nothing is granted;
   * its owner may well have changed the password since), with a warning when ADMIN_PASSWORD no longer matches.
   */
  async ensureAdmin(rawEmail: string, password: string): Promise<void> {
    let email: string;
    try {
      email = normalizeEmail(rawEmail, 'ADMIN_EMAIL');
    } catch {
      throw new Error('ADMIN_EMAIL is not a valid email address');
    }
    const outcome = await this.tx(async (em) => {
      // Two instances starting together must not both create the account.
      await em.execute(`SELECT pg_advisory_xact_lock(hashtext('users.ensure_admin'))`);
      const existing = await em.findOne(UserEntity, { email });
      if (existing) {
        const matches = password.length <= 1024 && (await verifyPassword(existing.passwordHash, password));
        if (existing.role === 'ADMIN') return matches ? 'kept' : 'kept-password-differs';
        if (!existing.emailVerifiedAt || !matches) {
          throw new Error(
            `ADMIN_EMAIL (${email}) belongs to an existing account that is ${existing.emailVerifiedAt ? 'verified but whose password is not ADMIN_PASSWORD' : 'not verified'}, ` +
              'so it is not promoted and the user service refuses to start. Either choose another ADMIN_EMAIL, or verify that account, ' +
              'sign in to prove it is yours and set ADMIN_PASSWORD to its password (or have an existing admin promote it with setUserRole and unset ADMIN_EMAIL).',
          );
        }
        existing.role = 'ADMIN';
        emitUserEvent(em, 'user.role_changed', { userId: existing.id, email, role: 'ADMIN', changedBy: existing.id });
        return 'promoted';
      }
      try {
        checkPasswordPolicy(password, 'ADMIN_PASSWORD', email);
      } catch (err) {
        throw new Error(`ADMIN_PASSWORD is not accepted: ${(err as Error).message}`);
      }
      em.create(UserEntity, {
        email,
        passwordHash: await hashPassword(password),
        role: 'ADMIN',
        emailVerifiedAt: new Date(),
      });
      return 'created';
    });
    if (outcome === 'kept-password-differs') {
      this.logger.warn(
        { email },
        'ADMIN_EMAIL is already an admin whose password is no longer ADMIN_PASSWORD; left unchanged (unset ADMIN_PASSWORD)',
      );
    } else {
      this.logger.info({ email, outcome }, 'admin account ensured');
    }
  }
}

import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { decodeCursor, pageSize, toConnection, TotalCountResolver } from '@shop/kernel';
import { AuthPayload, RegisterInput, RoleEnum, UpdateProfileInput, User, UserConnection } from '../schema/types';
import type { AccountService } from '../service/account.service';
import type { UserEntity } from '../store/entities';
import type { UserContext } from './context';

@Resolver(() => User)
export class UserResolver {
  constructor(private readonly accounts: AccountService) {}

  @Query(() => User, { nullable: true, description: 'The signed-in user; null when anonymous.' })
  async me(@Ctx() ctx: UserContext): Promise<UserEntity | null> {
    return ctx.identity.userId ? ctx.loaders.user.load(ctx.identity.userId) : null;
  }

  @Authorized('ADMIN')
  @Query(() => UserConnection, {
    description: 'All users, newest first (admins only). `search` matches email or name.',
  })
  async users(
    @Arg('first', () => Int, { nullable: true, description: 'Page size (default 20, max 100).' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'Cursor to continue after.' }) after: string | null,
    @Arg('search', () => String, { nullable: true, description: 'Text contained in the email or name.' })
    search: string | null,
  ): Promise<UserConnection> {
    const n = pageSize(first);
    const cursor = decodeCursor(after, 2) as [string, string] | undefined;
    const { rows, count } = await this.accounts.list({
      first: n,
      after: cursor,
      search: search?.trim().slice(0, 200) || undefined,
    });
    return { ...toConnection(rows, n, (u) => [u.createdAt.toISOString(), u.id]), count } as unknown as UserConnection;
  }

  @FieldResolver(() => Boolean)
  emailVerified(@Root() user: UserEntity): boolean {
    return !!user.emailVerifiedAt;
  }

  @Mutation(() => User, {
    description:
      'Creates an account and emails a verification link. Errors: EMAIL_TAKEN, BAD_USER_INPUT (weak password, bad email).',
  })
  register(@Arg('input', () => RegisterInput) input: RegisterInput): Promise<UserEntity> {
    return this.accounts.register(input);
  }

  @Mutation(() => Boolean, {
    description:
      'Confirms the email address with the token from the verification link. Error: INVALID_TOKEN (unknown, used or expired).',
  })
  verifyEmail(@Arg('token', () => String) token: string): Promise<boolean> {
    return this.accounts.verifyEmail(token);
  }

  @Mutation(() => Boolean, {
    description: 'Sends a new verification link if the account exists and is unverified. Always true.',
  })
  resendVerificationEmail(@Arg('email', () => String) email: string): Promise<boolean> {
    return this.accounts.resendVerificationEmail(email);
  }

  @Mutation(() => AuthPayload, {
    description:
      'Signs in. In cookie mode (a browser on an allowed origin) the tokens are set as HttpOnly cookies and null in the answer; other clients get them in the answer. Errors: INVALID_CREDENTIALS, EMAIL_NOT_VERIFIED, RATE_LIMITED.',
  })
  login(
    @Arg('email', () => String) email: string,
    @Arg('password', () => String) password: string,
    @Ctx() ctx: UserContext,
  ) {
    return ctx.session.issue(this.accounts.login(email, password, ctx.identity));
  }

  @Mutation(() => AuthPayload, {
    description:
      'Exchanges a refresh token for new tokens; the old one is spent. Re-using a spent token signs out that session everywhere (INVALID_TOKEN). Without the argument the refresh cookie is used (browsers); then, as in cookie mode, the new tokens are set as cookies and null in the answer, and INVALID_TOKEN clears the cookies. No token at all: UNAUTHENTICATED.',
  })
  refreshToken(
    @Arg('refreshToken', () => String, {
      nullable: true,
      description: 'The refresh token; omit it to use the HttpOnly refresh cookie.',
    })
    refreshToken: string | null,
    @Ctx() ctx: UserContext,
  ) {
    return ctx.session.refresh(refreshToken, (token) => this.accounts.refresh(token));
  }

  @Mutation(() => Boolean, {
    description:
      'Ends the session the refresh token belongs to (the argument, else the refresh cookie) and, for browsers, clears the session cookies. No token at all: UNAUTHENTICATED.',
  })
  logout(
    @Arg('refreshToken', () => String, {
      nullable: true,
      description: 'The refresh token; omit it to use the HttpOnly refresh cookie.',
    })
    refreshToken: string | null,
    @Ctx() ctx: UserContext,
  ): Promise<boolean> {
    return ctx.session.logout(refreshToken, (token) => this.accounts.logout(token));
  }

  @Mutation(() => Boolean, { description: 'Emails a password reset link if the account exists. Always true.' })
  requestPasswordReset(@Arg('email', () => String) email: string): Promise<boolean> {
    return this.accounts.requestPasswordReset(email);
  }

  @Mutation(() => Boolean, {
    description:
      'Sets a new password with the token from the reset link and signs out every session. Errors: INVALID_TOKEN, BAD_USER_INPUT.',
  })
  resetPassword(
    @Arg('token', () => String) token: string,
    @Arg('newPassword', () => String) newPassword: string,
  ): Promise<boolean> {
    return this.accounts.resetPassword(token, newPassword);
  }

  @Authorized()
  @Mutation(() => User, { description: "Changes the signed-in user's name." })
  updateProfile(
    @Arg('input', () => UpdateProfileInput) input: UpdateProfileInput,
    @Ctx() ctx: UserContext,
  ): Promise<UserEntity> {
    return this.accounts.updateProfile(ctx.identity, input);
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description:
      'Changes the password (the current one is required) and signs out every session. Errors: INVALID_CREDENTIALS, BAD_USER_INPUT.',
  })
  changePassword(
    @Arg('currentPassword', () => String) currentPassword: string,
    @Arg('newPassword', () => String) newPassword: string,
    @Ctx() ctx: UserContext,
  ): Promise<boolean> {
    return this.accounts.changePassword(ctx.identity, currentPassword, newPassword);
  }

  @Authorized('ADMIN')
  @Mutation(() => User, {
    description: 'Grants or removes the ADMIN role (admins only). The last admin cannot be demoted.',
  })
  setUserRole(
    @Arg('userId', () => ID) userId: string,
    @Arg('role', () => RoleEnum) role: RoleEnum,
    @Ctx() ctx: UserContext,
  ): Promise<UserEntity> {
    return this.accounts.setUserRole(ctx.identity, userId, role);
  }
}

/** Federation entry point for `User` references from other subgraphs (batched). */
export const userReferenceResolvers = {
  User: {
    __resolveReference(ref: { id: string }, ctx: UserContext) {
      return ctx.loaders.user.load(ref.id);
    },
  },
};

export const UserConnectionResolver = TotalCountResolver(
  UserConnection,
  'Number of users matching the filter (all pages); counted only when asked for.',
);

import { Directive, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from '@shop/kernel';

export enum RoleEnum {
  ADMIN = 'ADMIN',
  USER = 'USER',
}
registerEnumType(RoleEnum, {
  name: 'Role',
  description: 'What a signed-in person may do.',
  valuesConfig: {
    ADMIN: { description: 'Manages the catalog, orders and users.' },
    USER: { description: 'A shopper.' },
  },
});

@Directive('@key(fields: "id")')
@ObjectType('User', { description: 'A person with an account.' })
export class User {
  @Field(() => ID, { description: 'Opaque unique id.' })
  id!: string;

  @Field({ description: 'Sign-in email address (lower-case).' })
  email!: string;

  @Field(() => String, { nullable: true, description: 'Given name, if provided.' })
  firstName!: string | null;

  @Field(() => String, { nullable: true, description: 'Family name, if provided.' })
  lastName!: string | null;

  @Field(() => RoleEnum, { description: 'ADMIN or USER.' })
  role!: RoleEnum;

  @Field({ description: 'True once the person clicked the link in the verification email; sign-in requires it.' })
  emailVerified!: boolean;

  @Field(() => Date, { description: 'When the account was created.' })
  createdAt!: Date;
}

@ObjectType({
  description:
    'A signed-in session. Browsers (cookie mode) get the tokens as HttpOnly cookies and null here; other clients get them here.',
})
export class AuthPayload {
  @Field(() => String, {
    nullable: true,
    description:
      'JWT to send as `Authorization: Bearer <accessToken>`; valid for `expiresIn` seconds. Null in cookie mode (a request from an allowed browser origin, or a refresh/logout that used the cookie): the gateway set it as the `shop_session` cookie instead.',
  })
  accessToken!: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Single-use token for `refreshToken`; each use returns a new one. Keep it secret. Null in cookie mode: the gateway set it as the HttpOnly `shop_refresh` cookie instead.',
  })
  refreshToken!: string | null;

  @Field(() => Int, { description: 'Lifetime of the access token in seconds.' })
  expiresIn!: number;

  @Field(() => User, { description: 'The signed-in user.' })
  user!: User;
}

@InputType({ description: 'A new account.' })
export class RegisterInput {
  @Field({ description: 'Email address; a verification link is sent to it.' })
  email!: string;

  @Field({ description: 'At least 10 characters, not a common password, not containing the email.' })
  password!: string;

  @Field(() => String, { nullable: true, description: 'Given name.' })
  firstName?: string | null;

  @Field(() => String, { nullable: true, description: 'Family name.' })
  lastName?: string | null;
}

@InputType({ description: 'Profile changes; omitted fields stay as they are, null or empty clears them.' })
export class UpdateProfileInput {
  @Field(() => String, { nullable: true, description: 'Given name.' })
  firstName?: string | null;

  @Field(() => String, { nullable: true, description: 'Family name.' })
  lastName?: string | null;
}

@ObjectType({ description: 'A user in a page of users.' })
export class UserEdge {
  @Field({ description: 'Opaque cursor of this user.' })
  cursor!: string;

  @Field(() => User, { description: 'The user.' })
  node!: User;
}

@ObjectType({ description: 'A page of users.' })
export class UserConnection {
  @Field(() => [UserEdge], { description: 'The users on this page.' })
  edges!: UserEdge[];

  @Field(() => PageInfo, { description: 'Whether there is a next page and where it starts.' })
  pageInfo!: PageInfo;

  /** Counts lazily: resolved by `totalCount` only when the client selects it. */
  count!: () => Promise<number>;
}

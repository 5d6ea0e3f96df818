import type { GraphQLResponse } from '@shop/kernel/testing';

export { eventually } from '@shop/kernel/testing';

/** The data of a response that must not have errors. */
export function ok<T>(res: GraphQLResponse<T>): T {
  if (res.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data as T;
}

export const EMAIL_FIELDS = 'id to subject template status attempts lastError createdAt sentAt';

export const EMAILS = `query Emails($first: Int, $after: String, $to: String, $status: EmailStatus) {
  emails(first: $first, after: $after, to: $to, status: $status) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ${EMAIL_FIELDS} } }
  }
}`;

export const AUDIT_EVENTS = `query Audit($first: Int, $after: String, $type: String) {
  auditEvents(first: $first, after: $after, type: $type) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id type subject payload occurredAt } }
  }
}`;

export interface EmailNode {
  id: string;
  to: string;
  subject: string;
  template: string;
  status: 'QUEUED' | 'SENT' | 'FAILED' | 'DEAD';
  attempts: number;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}
export interface AuditNode {
  id: string;
  type: string;
  subject: string;
  payload: string;
  occurredAt: string;
}
export interface ConnectionOf<T> {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: T }[];
}

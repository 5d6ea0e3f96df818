export * from './edge';
export { BODY_LIMIT_BYTES } from './errors';
export * from './limits';
export * from './ratelimit';
export * from './safelist';

import 'reflect-metadata';

// The runtime kernel. Test helpers are `@shop/kernel/testing`; the development mailbox (smtp-server, mailparser) is
// `@shop/kernel/devmail`: neither is loaded by a service that does not ask for it.

export * from './accesslog';
export * from './auth';
export * from './bus';
export { coalesceWrites } from './coalesce';
export * from './composition';
export * from './dead-letters';
export * from './entity-stubs';
export { reportDeadLetters } from './bus-metrics';
export * from './config';
export * from './db';
export * from './errors';
export * from './lending';
export * from './subscription-results';
export * from './lifecycle';
export * from './loaders';
export * from './logger';
export * from './message-context';
export * from './logship';
export * from './metrics';
export * from './outbox';
export * from './redis';
export * from './schema';
export * from './documents';
export * from './server';
export * from './service';
export * from './shutdown';
export * from './events';
export * from './ids';
export * from './money';
export * from './net';
export * from './graphql-http';
export * from './group-commit';

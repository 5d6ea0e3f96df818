import 'reflect-metadata';

export * from './auth';
export * from './bus';
export * from './composition';
export * from './config';
export * from './db';
export * from './devmail';
export * from './errors';
export * from './logger';
export * from './outbox';
export * from './redis';
export * from './schema';
export * from './server';
export * from './service';
export * from './testing/harness';
export * from './testing/private-nats';
export * from './events';
export * from './money';

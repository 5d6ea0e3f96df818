/**
 * `@shop/kernel/testing`: the test harness (isolated environments, in-process stacks), what the subgraphs' test helpers
 * share (reading GraphQL responses, raw SQL) and private PostgreSQL, Redis and NATS servers for fault tests. Tests, faults and benchmarks only; runtime code never loads it.
 */
export * from './harness';
export * from './private-nats';
export * from './private-postgres';
export * from './private-redis';
export * from './process-stack';
export * from './responses';
export * from './scale-stack';
export * from './otlp-receiver';
export * from './table-lock';

import { GraphQLScalarType, Kind, ValueNode } from 'graphql';
import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { connectionTypes } from '@shop/kernel';
import { LogLevel } from '../store/types';

export { LogLevel };

registerEnumType(LogLevel, {
  name: 'LogLevel',
  description: 'Severity of a log line (the levels of pino, the loggers every service uses).',
  valuesConfig: {
    TRACE: { description: 'Finest detail, normally off.' },
    DEBUG: { description: 'Detail for diagnosing, e.g. one line per request in each subgraph.' },
    INFO: { description: 'Normal operation, e.g. the gateway access log.' },
    WARN: { description: 'Something went wrong and was handled (a retry, a refused input).' },
    ERROR: { description: 'An operation failed.' },
    FATAL: { description: 'The process cannot continue.' },
  },
});

function literal(ast: ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.LIST:
      return ast.values.map(literal);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value)]));
    default:
      return null;
  }
}

/** Any JSON value; only log lines' extra fields use it (output only). */
export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value (object, array, string, number, boolean or null).',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: literal,
});

@ObjectType({
  description:
    'One log line of any service, as stored centrally (shipped over NATS by every process; secrets redacted).',
})
export class LogEntry {
  @Field(() => ID, { description: 'Unique id of this line in the log store.' })
  id!: string;

  @Field(() => Date, { description: 'When the line was logged, by the clock of the process that logged it.' })
  time!: Date;

  @Field({
    description:
      'The service that logged it: `gateway`, `user`, `product`, `cart`, `order`, `media` or `notification`.',
  })
  service!: string;

  @Field(() => LogLevel, { description: 'Severity.' })
  level!: LogLevel;

  @Field({ description: 'The message (empty when the line has none).' })
  message!: string;

  @Field(() => String, {
    nullable: true,
    description: 'The request it belongs to (`x-request-id`, the same in every service); null outside a request.',
  })
  requestId!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The OpenTelemetry trace it belongs to, when tracing was on; null otherwise.',
  })
  traceId!: string | null;

  @Field(() => JSONScalar, {
    nullable: true,
    description:
      'Every other field of the line (e.g. `operationName`, `durationMs`, `err`), secrets redacted; null when none.',
  })
  fields!: Record<string, unknown> | null;
}

export const { Edge: LogEntryEdge, Connection: LogEntryConnection } = connectionTypes(LogEntry, {
  one: 'log line',
  many: 'log lines',
  order: 'newest first',
  name: 'LogEntry',
});

@InputType({ description: 'Which log lines to show; every filter given must match.' })
export class LogFilter {
  @Field(() => String, { nullable: true, description: 'Only lines of this service, e.g. `gateway` or `cart`.' })
  service?: string | null;

  @Field(() => LogLevel, { nullable: true, description: 'Only lines of this severity or higher.' })
  minLevel?: LogLevel | null;

  @Field(() => String, { nullable: true, description: 'Only lines of this request (`x-request-id`).' })
  requestId?: string | null;

  @Field(() => String, { nullable: true, description: 'Only lines of this OpenTelemetry trace id.' })
  traceId?: string | null;

  @Field(() => Date, { nullable: true, description: 'Only lines logged at or after this time.' })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Only lines logged before this time.' })
  until?: Date | null;

  @Field(() => String, {
    nullable: true,
    description: 'Only lines whose message contains this text (case-insensitive, 1 to 200 characters).',
  })
  search?: string | null;
}

@ArgsType()
export class LogsArgs {
  @Field(() => LogFilter, { nullable: true, description: 'Which lines to show (default: all).' })
  filter?: LogFilter | null;

  @Field(() => Int, { nullable: true, defaultValue: 50, description: 'Page size (default 50, max 100).' })
  first?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'Cursor to continue after: the endCursor of the previous page.',
  })
  after?: string | null;
}

import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  ASTVisitor, DocumentNode, GraphQLError, GraphQLSchema, Kind, parse, SelectionSetNode, specifiedRules, validate, ValidationContext,
  ValidationRule,
} from 'graphql';
import { ErrorCode, type EdgeConfig } from '@shop/kernel';

export type Limits = EdgeConfig['limits'];
export type LimitName = 'depth' | 'aliases' | 'rootFields' | 'directives' | 'tokens' | 'queryBytes' | 'cost';

/** A document over one of the limits: BAD_USER_INPUT naming the limit (`extensions.limit`) and its value (`extensions.max`). */
export function limitError(limit: LimitName, max: number, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, limit, max } });
}

/** graphql-armor reports "Syntax Error: <what>"; ours says what was exceeded and keeps the contract code. */
function reject(limit: LimitName, max: number): (ctx: ValidationContext | null, err: GraphQLError) => void {
  return (ctx, err) => ctx?.reportError(limitError(limit, max, err.message.replace(/^Syntax Error: /, '')));
}

/** Root fields of each operation (through fragments, `__typename` excluded): many cheap root fields still fan out to many subgraph fetches. */
export function maxRootFieldsRule(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(op) {
      const seen = new Set<string>();
      const count = (set: SelectionSetNode): number => {
        let n = 0;
        for (const s of set.selections) {
          if (s.kind === Kind.FIELD) n += s.name.value === '__typename' ? 0 : 1;
          else if (s.kind === Kind.INLINE_FRAGMENT) n += count(s.selectionSet);
          else if (!seen.has(s.name.value)) {
            seen.add(s.name.value);
            const fragment = context.getFragment(s.name.value);
            if (fragment) n += count(fragment.selectionSet);
          }
        }
        return n;
      };
      const n = count(op.selectionSet);
      if (n > max) context.reportError(limitError('rootFields', max, `Root fields limit of ${max} exceeded, found ${n}.`));
    },
  });
}

/**
 * The document limits as graphql-js validation rules (graphql-armor's depth, aliases, directives and cost, plus
 * root fields), shared by the HTTP path (Apollo `validationRules`) and the WebSocket path. A limit of 0 is off.
 */
export function limitRules(limits: Limits): ValidationRule[] {
  const off = { enabled: false } as const;
  const armor = new ApolloArmor({
    maxDepth: limits.maxDepth
      ? { n: limits.maxDepth, flattenFragments: true, propagateOnRejection: false, onReject: [reject('depth', limits.maxDepth)] }
      : off,
    maxAliases: limits.maxAliases
      ? { n: limits.maxAliases, propagateOnRejection: false, onReject: [reject('aliases', limits.maxAliases)] }
      : off,
    maxDirectives: limits.maxDirectives
      ? { n: limits.maxDirectives, propagateOnRejection: false, onReject: [reject('directives', limits.maxDirectives)] }
      : off,
    costLimit: limits.maxCost
      ? { maxCost: limits.maxCost, flattenFragments: true, propagateOnRejection: false, onReject: [reject('cost', limits.maxCost)] }
      : off,
    // Tokens: graphql-js counts them while parsing (parseOptions), on both paths. Field suggestions: formatError.
    maxTokens: off,
    blockFieldSuggestion: off,
  }).protect();
  return [...armor.validationRules, ...(limits.maxRootFields ? [maxRootFieldsRule(limits.maxRootFields)] : [])];
}

/** Options for graphql-js `parse`: it aborts after `maxTokens` tokens, before building a large AST. */
export function parseOptions(limits: Limits): { maxTokens?: number } {
  return limits.maxTokens ? { maxTokens: limits.maxTokens } : {};
}

/** The query text's size, checked before parsing. */
export function checkQuerySize(limits: Limits, query: unknown): GraphQLError | undefined {
  if (!limits.maxQueryBytes || typeof query !== 'string') return undefined;
  const bytes = Buffer.byteLength(query, 'utf8');
  if (bytes <= limits.maxQueryBytes) return undefined;
  return limitError('queryBytes', limits.maxQueryBytes, `Query size limit of ${limits.maxQueryBytes} bytes exceeded, found ${bytes}.`);
}

/** graphql-js reports the token limit as a syntax error; this recognises it so it can be coded like the other limits. */
export function isTokenLimitError(message: string): boolean {
  return /Document contains more tha[nt] \d+ tokens/.test(message);
}

/**
 * Everything the HTTP path checks before execution, for callers outside Apollo (the WebSocket path, the
 * operations check): size, parse with the token limit, standard validation plus the limit rules.
 */
export function checkDocument(
  schema: GraphQLSchema,
  limits: Limits,
  query: unknown,
  rules: readonly ValidationRule[] = limitRules(limits),
): { document: DocumentNode; errors?: undefined } | { document?: undefined; errors: GraphQLError[] } {
  if (typeof query !== 'string' || !query.trim()) return { errors: [new GraphQLError('A non-empty query string is required', { extensions: { code: 'BAD_REQUEST' } })] };
  const tooBig = checkQuerySize(limits, query);
  if (tooBig) return { errors: [tooBig] };
  let document: DocumentNode;
  try {
    document = parse(query, parseOptions(limits));
  } catch (err) {
    const e = err as GraphQLError;
    if (isTokenLimitError(e.message)) return { errors: [limitError('tokens', limits.maxTokens, `Token limit of ${limits.maxTokens} exceeded.`)] };
    return { errors: [new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })] };
  }
  const errors = validate(schema, document, [...specifiedRules, ...rules]);
  if (errors.length) {
    return { errors: errors.map((e) => (e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }))) };
  }
  return { document };
}

import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  ASTVisitor,
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  FragmentSpreadNode,
  getOperationAST,
  InlineFragmentNode,
  GraphQLError,
  GraphQLSchema,
  Kind,
  OperationDefinitionNode,
  parse,
  SelectionSetNode,
  specifiedRules,
  validate,
  ValidationContext,
  ValidationRule,
  ValueNode,
} from 'graphql';
import { ErrorCode, type EdgeConfig } from '@shop/kernel';

export type Limits = EdgeConfig['limits'];
export type LimitName =
  'depth' | 'aliases' | 'rootFields' | 'directives' | 'tokens' | 'queryBytes' | 'cost' | 'subscriptions';

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
      if (n > max)
        context.reportError(limitError('rootFields', max, `Root fields limit of ${max} exceeded, found ${n}.`));
    },
  });
}

/** graphql-armor's cost model (docs/security.md, "Document limits"), with its defaults. */
const COST = { object: 2, scalar: 1, depthFactor: 1.5 };

/**
 * An operation's cost: 2 per field with a selection set, 1 per leaf field, the children's cost ×1.5 per level, and a
 * field's subtree multiplied by its `first`/`last` argument (fragments flattened, `__schema` free) — graphql-armor's
 * cost rule, except that a page size given by a variable counts too: its value from `variables` (else the variable's
 * default). Without `variables` (validation, before the values are known) a variable counts 1, as in graphql-armor.
 */
export function operationCost(
  operation: OperationDefinitionNode,
  fragment: (name: string) => FragmentDefinitionNode | undefined,
  variables?: Record<string, unknown> | null,
): number {
  const defaults = new Map(
    (operation.variableDefinitions ?? []).map((d) => [
      d.variable.name.value,
      d.defaultValue?.kind === Kind.INT ? Number(d.defaultValue.value) : undefined,
    ]),
  );
  const pageSize = (value: ValueNode): number => {
    let n: unknown;
    if (value.kind === Kind.INT) n = Number(value.value);
    else if (value.kind === Kind.VARIABLE && variables)
      n = variables[value.name.value] ?? defaults.get(value.name.value);
    return typeof n === 'number' && Number.isFinite(n) ? Math.max(Math.trunc(n), 1) : 1;
  };
  // A port of graphql-armor's CostLimitVisitor.computeComplexity with flattenFragments (same numbers for literal
  // page sizes): fragments are flattened into their parent, a fragment spread costs 1 plus its definition, and a
  // fragment spread again costs 1 plus 1.5 × its first cost.
  const visited = new Map<string, number>();
  const complexity = (node: FieldNode | InlineFragmentNode | FragmentSpreadNode | FragmentDefinitionNode): number => {
    if (node.kind === Kind.FIELD && node.name.value === '__schema') return 0;
    let cost = COST.scalar;
    if (node.kind !== Kind.FRAGMENT_SPREAD && node.selectionSet) {
      cost = COST.object;
      const page =
        node.kind === Kind.FIELD
          ? node.arguments?.find((a) => a.name.value === 'first' || a.name.value === 'last')
          : undefined;
      for (const child of node.selectionSet.selections) {
        cost += child.kind === Kind.FIELD ? COST.depthFactor * complexity(child) : complexity(child);
      }
      cost *= page ? pageSize(page.value) : 1;
    } else if (node.kind === Kind.FRAGMENT_SPREAD) {
      const seen = visited.get(node.name.value);
      if (seen !== undefined) return cost + COST.depthFactor * Math.max(seen, 0);
      visited.set(node.name.value, -1);
      const def = fragment(node.name.value);
      if (def) {
        const c = complexity(def);
        cost += c;
        visited.set(node.name.value, c);
      }
    }
    return cost;
  };
  return operation.selectionSet.selections.reduce((sum, child) => sum + complexity(child), 0);
}

export function costError(max: number, cost: number): GraphQLError {
  return limitError('cost', max, `Query Cost limit of ${max} exceeded, found ${Math.round(cost)}.`);
}

/** The cost limit at validation: literal page sizes (variables count 1 here; `checkVariableCost` counts their values). */
export function maxCostRule(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(op) {
      const cost = operationCost(op, (n) => context.getFragment(n) ?? undefined);
      if (cost > max) context.reportError(costError(max, cost));
    },
  });
}

/**
 * The cost limit once the variables are known (HTTP: an Apollo plugin at didResolveOperation; WebSocket: onSubscribe).
 * HTTP 400 like the validation errors.
 */
export function checkVariableCost(
  limits: Limits,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: unknown,
): GraphQLError | undefined {
  if (!limits.maxCost) return undefined;
  const operation = getOperationAST(document, operationName ?? undefined);
  // Without variables the cost is the one validation has already checked.
  if (!operation?.variableDefinitions?.length) return undefined;
  const fragments = new Map(
    document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d] as const),
  );
  const vars = variables && typeof variables === 'object' ? (variables as Record<string, unknown>) : {};
  const cost = operationCost(operation, (n) => fragments.get(n), vars);
  if (cost <= limits.maxCost) return undefined;
  const err = costError(limits.maxCost, cost);
  (err.extensions as Record<string, unknown>).http = { status: 400 };
  return err;
}

/**
 * The document limits as graphql-js validation rules (graphql-armor's depth, aliases and directives, plus root
 * fields and cost), shared by the HTTP path (Apollo `validationRules`) and the WebSocket path. A limit of 0 is off.
 */
export function limitRules(limits: Limits): ValidationRule[] {
  const off = { enabled: false } as const;
  const armor = new ApolloArmor({
    maxDepth: limits.maxDepth
      ? {
          n: limits.maxDepth,
          flattenFragments: true,
          propagateOnRejection: false,
          onReject: [reject('depth', limits.maxDepth)],
        }
      : off,
    maxAliases: limits.maxAliases
      ? // graphql-armor exempts aliases of and to `__typename` by default (allowList), so `{ __typename: products(first: 100) { … } }`
        // or 200 aliases of __typename passed; every alias counts here.
        {
          n: limits.maxAliases,
          allowList: [],
          propagateOnRejection: false,
          onReject: [reject('aliases', limits.maxAliases)],
        }
      : off,
    maxDirectives: limits.maxDirectives
      ? { n: limits.maxDirectives, propagateOnRejection: false, onReject: [reject('directives', limits.maxDirectives)] }
      : off,
    // Cost: our own rule (maxCostRule) with the same model, which can also count page sizes given by variables.
    costLimit: off,
    // Tokens: graphql-js counts them while parsing (parseOptions), on both paths. Field suggestions: formatError.
    maxTokens: off,
    blockFieldSuggestion: off,
  }).protect();
  return [
    ...armor.validationRules,
    ...(limits.maxRootFields ? [maxRootFieldsRule(limits.maxRootFields)] : []),
    ...(limits.maxCost ? [maxCostRule(limits.maxCost)] : []),
  ];
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
  return limitError(
    'queryBytes',
    limits.maxQueryBytes,
    `Query size limit of ${limits.maxQueryBytes} bytes exceeded, found ${bytes}.`,
  );
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
  if (typeof query !== 'string' || !query.trim())
    return {
      errors: [new GraphQLError('A non-empty query string is required', { extensions: { code: 'BAD_REQUEST' } })],
    };
  const tooBig = checkQuerySize(limits, query);
  if (tooBig) return { errors: [tooBig] };
  let document: DocumentNode;
  try {
    document = parse(query, parseOptions(limits));
  } catch (err) {
    const e = err as GraphQLError;
    if (isTokenLimitError(e.message))
      return { errors: [limitError('tokens', limits.maxTokens, `Token limit of ${limits.maxTokens} exceeded.`)] };
    return {
      errors: [
        new GraphQLError(e.message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          extensions: { code: 'GRAPHQL_PARSE_FAILED' },
        }),
      ],
    };
  }
  const errors = validate(schema, document, [...specifiedRules, ...rules]);
  if (errors.length) {
    return {
      errors: errors.map((e) =>
        e.extensions?.code
          ? e
          : new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
      ),
    };
  }
  return { document };
}

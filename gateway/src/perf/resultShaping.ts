/**
 * Result shaping for @apollo/gateway without re-deriving the document's facts on every response.
 *
 * After the plan ran, `executeQueryPlan` (@apollo/gateway 2.14.4) calls `computeResponse` (dist/resultShaping.js) to
 * copy the merged subgraph data into the client's shape: for every field of every object of the response it looks
 * up again the field's `@skip`/`@include` directives (two schema lookups), its response name, its type, whether it is
 * an introspection field, and reaches every federation-internals function through the package index's re-export
 * getters (a measurable share of the gateway's CPU on its own), allocating a result object per value.
 *
 * This is the same algorithm, line for line (same order of checks, same errors with the same messages and paths,
 * same null bubbling), with what depends only on the document computed once per selection set and kept in a WeakMap
 * keyed by the selection set object (so it lives exactly as long as the operation, see operationReuse.ts), the
 * library's functions bound once, and the per-value flags returned through two variables instead of an object.
 * Everything that depends on the request — variables for `@skip`/`@include`, the data, `__typename` — is read per
 * response, as before. The equivalence is tested against the library's own function
 * (gateway/test/result-shaping.test.ts).
 */
import { createRequire } from 'node:module';
import { SUPPORTED_GATEWAY_VERSION } from './operationReuse';

type Fi = typeof import('@apollo/federation-internals');
/** federation-internals' operation, selection, type and directive objects, used as the library's own code does. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Dyn = any;

const requireHere = createRequire(__filename);
const gatewayRequire = createRequire(requireHere.resolve('@apollo/gateway'));
const fi = gatewayRequire('@apollo/federation-internals') as Fi;
// Bound once: every `fi.x` through the package index is a getter call.
/** Throws `message` (the library's `assert`, typed without its assertion signature: it is only called to fail). */
const assert: (condition: boolean, message: string) => void = fi.assert;
const {
  isNonNullType,
  isListType,
  isCompositeType,
  isObjectType,
  isSubtype,
  isValidLeafValue,
  typenameFieldName,
  Variable,
} = fi;
const ERRORS = fi.ERRORS;

/** `@skip(if:)` / `@include(if:)` of a selection: the literal, or the variable read per response. */
interface Condition {
  directive: Dyn;
  arg: Dyn;
}

interface FieldStep {
  field: true;
  skip?: Condition;
  include?: Condition;
  responseName: string;
  type: Dyn;
  introspection: boolean;
  typename: boolean;
  selection: Dyn;
  selectionSet: Dyn;
}
interface FragmentStep {
  field: false;
  skip?: Condition;
  include?: Condition;
  typeCondition: Dyn;
  selectionSet: Dyn;
}
type Step = FieldStep | FragmentStep;

const compiled = new WeakMap<object, Step[]>();
/**
 * Selection sets that write a response key `__proto__` (an alias: GraphQL reserves `__` names but graphql-js lets an
 * alias through), directly or through their fragments: their objects are made without a prototype, as the library
 * makes every object. Any other object is a plain one: V8 keeps objects without a prototype in dictionary mode,
 * which makes building and serializing the response markedly slower (~1.7× in a micro-benchmark of a 20-product page).
 */
const protoKeys = new WeakSet<object>();

function hasProtoKey(steps: Step[], schema: Dyn): boolean {
  return steps.some((s) =>
    s.field ? s.responseName === '__proto__' : hasProtoKey(stepsOf(s.selectionSet, schema), schema),
  );
}

/** A new output object for `selectionSet` (see protoKeys). */
function outputObject(selectionSet: Dyn, schema: Dyn): Record<string, unknown> {
  stepsOf(selectionSet, schema);
  return protoKeys.has(selectionSet) ? Object.create(null) : {};
}

function condition(element: Dyn, directive: Dyn): Condition | undefined {
  const d = element.appliedDirectivesOf(directive)[0];
  return d ? { directive: d, arg: d.arguments().if } : undefined;
}

function stepsOf(selectionSet: Dyn, schema: Dyn): Step[] {
  let steps = compiled.get(selectionSet);
  if (steps) return steps;
  const skip = schema.skipDirective();
  const include = schema.includeDirective();
  steps = (selectionSet.selections() as Dyn[]).map((selection): Step => {
    const element = selection.element;
    const conditions = { skip: condition(element, skip), include: condition(element, include) };
    if (selection.kind === 'FieldSelection') {
      return {
        field: true,
        ...conditions,
        responseName: element.responseName(),
        type: element.definition.type,
        introspection: element.definition.isSchemaIntrospectionField(),
        typename: element.name === typenameFieldName,
        selection,
        selectionSet: selection.selectionSet,
      };
    }
    return { field: false, ...conditions, typeCondition: element.typeCondition, selectionSet: selection.selectionSet };
  });
  compiled.set(selectionSet, steps);
  if (hasProtoKey(steps, schema)) protoKeys.add(selectionSet);
  return steps;
}

interface Parameters {
  schema: Dyn;
  variables: Record<string, unknown>;
  errors: Error[];
  introspectionHandling: (selection: Dyn) => unknown;
}

function ifValue(c: Condition, variables: Record<string, unknown>): boolean {
  const ifArg = c.arg;
  if (ifArg instanceof Variable) {
    const value = variables[ifArg.name];
    if (!(value !== undefined && typeof value === 'boolean'))
      assert(false, `Unexpected value ${String(value)} for variable ${String(ifArg)} of ${String(c.directive)}`);
    return value as boolean;
  }
  return ifArg;
}

const shouldSkip = (step: Step, p: Parameters) =>
  (step.skip && ifValue(step.skip, p.variables)) || (step.include && !ifValue(step.include, p.variables));

const hasOwn = Object.prototype.hasOwnProperty;
const OK = 0;
const NULL_BUBBLE_UP = 1;

function typeConditionApplies(schema: Dyn, typeCondition: Dyn, typename: string | undefined, parentType: Dyn) {
  if (!typeCondition) return true;
  if (typename) {
    const type = schema.type(typename);
    return !!type && isSubtype(typeCondition, type);
  }
  return isSubtype(typeCondition, parentType);
}

function applySelectionSet(
  input: Dyn,
  selectionSet: Dyn,
  output: Dyn,
  parameters: Parameters,
  path: (string | number)[],
  parentType: Dyn,
): number {
  for (const step of stepsOf(selectionSet, parameters.schema)) {
    if (shouldSkip(step, parameters)) continue;
    if (step.field) {
      const responseName = step.responseName;
      const outputValue = output[responseName];
      if (step.introspection) {
        if (outputValue === undefined) output[responseName] = parameters.introspectionHandling(step.selection);
        continue;
      }
      let inputValue = (hasOwn.call(input, responseName) ? input[responseName] : undefined) ?? null;
      if (step.typename) {
        if (outputValue === undefined) {
          if (inputValue === null && responseName !== typenameFieldName) inputValue = input[typenameFieldName] ?? null;
          const type =
            inputValue !== null && typeof inputValue === 'string'
              ? (parameters.schema.type(inputValue) ?? parentType)
              : parentType;
          if (!isObjectType(type)) return NULL_BUBBLE_UP;
          output[responseName] = type.name;
        }
        continue;
      }
      path.push(responseName);
      const updated = updateOutputValue(
        outputValue,
        step.type,
        inputValue,
        step.selectionSet,
        path,
        parameters,
        parentType,
      );
      const isInvalid = lastInvalid;
      output[responseName] = updated;
      path.pop();
      if (isInvalid) return NULL_BUBBLE_UP;
    } else {
      const typename = input[typenameFieldName];
      if (!(!typename || typeof typename === 'string'))
        assert(false, `Got unexpected value for __typename: ${String(typename)}`);
      if (typeConditionApplies(parameters.schema, step.typeCondition, typename, parentType)) {
        const res = applySelectionSet(
          input,
          step.selectionSet,
          output,
          parameters,
          path,
          step.typeCondition ?? parentType,
        );
        if (res === NULL_BUBBLE_UP) return NULL_BUBBLE_UP;
      }
    }
  }
  return OK;
}

function pathLastElementDescription(path: (string | number)[], currentType: Dyn, parentType: Dyn): string {
  const element = path[path.length - 1];
  assert(element !== undefined, 'Should not have been called on an empty path');
  return typeof element === 'string'
    ? `field ${String(parentType)}.${element}`
    : `array element of type ${String(currentType)} at index ${element}`;
}

/** The library returns `{ updated, isInvalid, hasErrors }` per value; here `updated` is returned, the flags set here. */
let lastInvalid = false;
let lastHasErrors = false;
function done(updated: unknown, isInvalid: boolean, hasErrors: boolean): unknown {
  lastInvalid = isInvalid;
  lastHasErrors = hasErrors;
  return updated;
}

function updateOutputValue(
  outputValue: Dyn,
  type: Dyn,
  inputValue: Dyn,
  selectionSet: Dyn,
  path: (string | number)[],
  parameters: Parameters,
  parentType: Dyn,
): unknown {
  if (inputValue === undefined) assert(false, 'Should not pass undefined for `inputValue` to this method');
  if (outputValue === null || (outputValue !== undefined && !selectionSet)) return done(outputValue, false, false);
  if (isNonNullType(type)) {
    const updated = updateOutputValue(outputValue, type.ofType, inputValue, selectionSet, path, parameters, parentType);
    if (updated === null) {
      if (!lastHasErrors) {
        parameters.errors.push(
          ERRORS.INVALID_GRAPHQL.err(
            `Cannot return null for non-nullable ${pathLastElementDescription(path, type.ofType, parentType)}.`,
            { path: Array.from(path) },
          ),
        );
      }
      return done(updated, true, true);
    }
    return done(updated, false, false);
  }
  if (inputValue === null) return done(null, false, false);
  if (isListType(type)) {
    if (!Array.isArray(inputValue))
      assert(false, `Invalid non-list value ${String(inputValue)} returned by subgraph for list type ${String(type)}`);
    if (!(outputValue === undefined || Array.isArray(outputValue)))
      assert(false, `Invalid non-list value ${String(outputValue)} returned by subgraph for list type ${String(type)}`);
    const outputValueList: unknown[] =
      outputValue === undefined ? new Array(inputValue.length).fill(undefined) : outputValue;
    if (inputValue.length !== outputValueList.length)
      assert(
        false,
        `[${String(inputValue)}].length (${inputValue.length}) !== [${String(outputValueList)}].length (${outputValueList.length})`,
      );
    let shouldNullify = false;
    let hasErrors = false;
    const updated = new Array(outputValueList.length);
    for (let idx = 0; idx < outputValueList.length; idx++) {
      path.push(idx);
      updated[idx] = updateOutputValue(
        outputValueList[idx],
        type.ofType,
        inputValue[idx],
        selectionSet,
        path,
        parameters,
        parentType,
      );
      path.pop();
      shouldNullify ||= lastInvalid;
      hasErrors ||= lastHasErrors;
    }
    return done(shouldNullify ? null : updated, false, hasErrors);
  }
  if (isCompositeType(type)) {
    if (!selectionSet) assert(false, `Invalid empty selection set for composite type ${String(type)}`);
    if (typeof inputValue !== 'object')
      assert(
        false,
        `Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${String(type)}`,
      );
    if (!(outputValue === undefined || typeof outputValue === 'object'))
      assert(
        false,
        `Invalid non-object value ${String(inputValue)} returned by subgraph for composite type ${String(type)}`,
      );
    const inputTypename = inputValue[typenameFieldName];
    if (!(inputTypename === undefined || typeof inputTypename === 'string'))
      assert(false, `Invalid non-string value ${String(inputTypename)} for __typename at ${String(path)}`);
    let objType = type;
    if (inputTypename) {
      const typenameType = parameters.schema.type(inputTypename);
      if (!typenameType || !isCompositeType(typenameType)) {
        parameters.errors.push(
          ERRORS.INVALID_GRAPHQL.err(
            `Invalid __typename found for object at ${pathLastElementDescription(path, type, parentType)}.`,
            { path: Array.from(path) },
          ),
        );
        return done(null, false, true);
      }
      objType = typenameType;
    }
    const outputValueObject = outputValue === undefined ? outputObject(selectionSet, parameters.schema) : outputValue;
    const res = applySelectionSet(inputValue, selectionSet, outputValueObject, parameters, path, objType);
    const hasErrors = res === NULL_BUBBLE_UP;
    return done(hasErrors ? null : outputValueObject, false, hasErrors);
  }
  if (outputValue !== undefined)
    assert(false, `Excepted output to be undefined but got ${String(type)} for type ${String(type)}`);
  const isValidValue = isValidLeafValue(parameters.schema, inputValue, type);
  if (!isValidValue) {
    parameters.errors.push(
      ERRORS.INVALID_GRAPHQL.err(`Invalid value found for ${pathLastElementDescription(path, type, parentType)}.`, {
        path: Array.from(path),
      }),
    );
  }
  return done(isValidValue ? inputValue : null, false, !isValidValue);
}

export interface ComputeResponseArgs {
  operation: Dyn;
  variables?: Record<string, unknown>;
  input: Record<string, unknown> | null | undefined;
  introspectionHandling: (selection: Dyn) => unknown;
}

/** Drop-in for @apollo/gateway's `computeResponse` (same arguments, same answer). */
export function computeResponse({ operation, variables, input, introspectionHandling }: ComputeResponseArgs): {
  data: unknown;
  errors: Error[];
} {
  if (!input) return { data: input, errors: [] };
  const schema = operation.schema();
  const parameters: Parameters = {
    schema,
    variables: { __proto__: null, ...operation.collectDefaultedVariableValues(), ...variables } as Record<
      string,
      unknown
    >,
    errors: [],
    introspectionHandling,
  };
  const data = outputObject(operation.selectionSet, schema);
  const res = applySelectionSet(
    input,
    operation.selectionSet,
    data,
    parameters,
    [],
    schema.schemaDefinition.rootType(operation.rootKind),
  );
  return { data: res === NULL_BUBBLE_UP ? null : data, errors: parameters.errors };
}

let installed: boolean | undefined;

/**
 * Puts `computeResponse` in place of the library's (where `executeQueryPlan` looks it up: the module's exports);
 * false, and the library unchanged, for Dyn @apollo/gateway version but the one this was written from.
 */
export function installResultShaping(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  const version = (gatewayRequire('@apollo/gateway/package.json') as { version: string }).version;
  if (version !== SUPPORTED_GATEWAY_VERSION) return false;
  const shaping = gatewayRequire('@apollo/gateway/dist/resultShaping') as { computeResponse?: unknown };
  if (typeof shaping.computeResponse !== 'function') return false;
  shaping.computeResponse = computeResponse;
  installed = true;
  return true;
}

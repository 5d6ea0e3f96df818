import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import gql from 'graphql-tag';
import type { SubgraphModule } from '@shop/kernel';
import { normalizeOperation, operationId, readManifest } from '../../gateway/src/edge/safelist';
import { ApiOptions, checkSchemas, compositionVersion, generateSchemas, writeSchemas } from '../lib/compose';
import {
  apiSchemaOf, checkOperations, compareApiSchemas, OperationSource, printApiSchema, readIntendedChanges, readOperationSources,
} from '../lib/operations';
import { readRoverConfig } from '../lib/rover';
import { API_FILE, MANIFEST_FILE, OPERATIONS_DIR, SUPERGRAPH_FILE } from '../paths';

const supergraph = fs.readFileSync(SUPERGRAPH_FILE, 'utf8');
const api = apiSchemaOf(supergraph);
const real = readOperationSources(OPERATIONS_DIR);
const at = (file: string, text: string): OperationSource => ({ file, text });

describe("the repository's client operations", () => {
  it('are valid against the API schema, within the gateway limits, and use every root field', () => {
    expect(real.map((s) => s.file)).toEqual(expect.arrayContaining(['storefront/account.graphql', 'admin/orders.graphql']));
    const { problems, manifest } = checkOperations(api, real);
    expect(problems).toEqual([]);
    expect(manifest.operations.length).toBeGreaterThanOrEqual(35);
  });

  it('schema/api.graphql and schema/persisted-queries.json are what the supergraph and the operations produce', () => {
    expect(fs.readFileSync(API_FILE, 'utf8')).toBe(printApiSchema(supergraph));
    expect(readManifest(MANIFEST_FILE)).toEqual(checkOperations(api, real).manifest);
  });
});

describe('the operations check fails on a broken operation', () => {
  const check = (text: string) => checkOperations(api, [...real, at('storefront/broken.graphql', text)]).problems;

  it('an unknown field, named with file, line and column', () => {
    expect(check('query Broken {\n  products { edges { node { id colour } } }\n}')).toEqual([
      'storefront/broken.graphql:2:32: Cannot query field "colour" on type "Product".',
    ]);
  });

  it('a wrong argument type and an undeclared variable', () => {
    expect(check('query Broken { product(id: true) { id } products(first: $n) { totalCount } }')).toEqual([
      'storefront/broken.graphql:1:28: ID cannot represent a non-string and non-integer value: true',
      'storefront/broken.graphql:1:57: Variable "$n" is not defined by operation "Broken".',
    ]);
  });

  it('a document the gateway would refuse (deeper than GRAPHQL_MAX_DEPTH)', () => {
    const deep = 'query Deep { deals { product { deal { product { deal { product { deal { product { deal { product { name } } } } } } } } } } }';
    expect(check(deep)).toEqual(['storefront/broken.graphql: Query depth limit of 10 exceeded, found 11.']);
  });

  it('syntax errors, unnamed operations and names used twice', () => {
    expect(check('query Broken { categories { slug }')).toEqual([expect.stringMatching(/^storefront\/broken\.graphql: Syntax Error/)]);
    expect(check('{ categories { slug } }')).toEqual(['storefront/broken.graphql: every operation needs a name (clients and logs refer to it)']);
    expect(check('query Me { me { id } }')).toEqual(['storefront/broken.graphql: operation name Me is also used in storefront/account.graphql']);
  });

  it('a root field no operation uses', () => {
    const problems = checkOperations(api, real.filter((s) => s.file !== 'admin/orders.graphql')).problems;
    expect(problems).toEqual([
      'Query.orders is not used by any operation in schema/operations: add the client operation that calls it',
      'Mutation.updateOrderStatus is not used by any operation in schema/operations: add the client operation that calls it',
    ]);
  });
});

describe('operation ids (the safelist)', () => {
  const id = (text: string, name?: string) => operationId(normalizeOperation(parse(text), name)!.body);

  it('formatting, comments, commas, definition order and other operations in the document do not change the id', () => {
    const a = 'query Q($id: ID!) { product(id: $id) { ...F } } fragment F on Product { id name }';
    const b = '# product page\nfragment F on Product {\n  id,\n  name\n}\nquery Other { categories { slug } }\nquery Q($id: ID!) {\n  product(id: $id) { ...F }\n}';
    expect(id(b, 'Q')).toBe(id(a));
  });

  it('a different selection, name or variable is another operation', () => {
    const base = id('query Q { categories { slug } }');
    expect(id('query Q { categories { slug name } }')).not.toBe(base);
    expect(id('query R { categories { slug } }')).not.toBe(base);
    expect(id('query Q($x: Int) { categories { slug } }')).not.toBe(base);
  });
});

describe('breaking changes of the API schema', () => {
  const before = 'type Query { product(id: ID!): Product products(first: Int): [Product!]! }\ntype Product { id: ID! name: String! weight: Int }\nenum Sort { NAME PRICE }';

  it('a removed field, a new required argument and a changed type are breaking; additions are not', () => {
    const after = 'type Query { product(id: ID!, locale: String!): Product products(first: Int, search: String): [Product!]! }\ntype Product { id: ID! name: String sku: String }\nenum Sort { NAME PRICE }';
    const cmp = compareApiSchemas(before, after, []);
    expect(cmp.unlisted.sort()).toEqual([
      'FIELD_CHANGED_KIND: Product.name changed type from String! to String.',
      'FIELD_REMOVED: Product.weight was removed.',
      'REQUIRED_ARG_ADDED: A required arg locale on Query.product was added.',
    ]);
    expect(cmp.intended).toEqual([]);
  });

  it('a listed change is allowed (by its printed line or its description)', () => {
    const after = 'type Query { product(id: ID!): Product products(first: Int): [Product!]! }\ntype Product { id: ID! }\nenum Sort { NAME PRICE }';
    const cmp = compareApiSchemas(before, after, [
      { change: 'FIELD_REMOVED: Product.weight was removed.', reason: 'moved to shipping' },
      { change: 'Product.name was removed.', reason: 'renamed to title' },
    ]);
    expect(cmp.unlisted).toEqual([]);
    expect(cmp.intended.sort()).toEqual(['FIELD_REMOVED: Product.name was removed.', 'FIELD_REMOVED: Product.weight was removed.']);
  });

  it('a new enum value is dangerous, not breaking', () => {
    const cmp = compareApiSchemas(before, before.replace('NAME PRICE', 'NAME PRICE NEWEST'), []);
    expect(cmp.unlisted).toEqual([]);
    expect(cmp.dangerous).toEqual(['VALUE_ADDED_TO_ENUM: NEWEST was added to enum type Sort.']);
  });

  it('an intended change needs a reason', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intended-'));
    const file = path.join(dir, 'intended-changes.yaml');
    fs.writeFileSync(file, 'changes:\n  - change: "FIELD_REMOVED: Product.weight was removed."\n');
    expect(readIntendedChanges(file).problems).toEqual(['intended-changes.yaml: changes[0] ("FIELD_REMOVED: Product.weight was removed.") needs a reason']);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('npm run compose with the API checks (a scratch repository)', () => {
  const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])';
  const fakeModule = (sdl: string): SubgraphModule => ({
    name: 'user',
    buildSchema: async () => buildSubgraphSchema({ typeDefs: gql(`${LINK}\n${sdl}`) }),
    start: async () => {
      throw new Error('not used');
    },
  });
  const v1 = fakeModule('type User @key(fields: "id") { id: ID! email: String! nickname: String }\ntype Query { me: User }');
  const v2 = fakeModule('type User @key(fields: "id") { id: ID! email: String! }\ntype Query { me: User }'); // nickname removed

  let root: string;
  let opts: { rover: ReturnType<typeof readRoverConfig>; modules: SubgraphModule[]; supergraphFile: string; api: ApiOptions };
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'api-check-'));
    fs.writeFileSync(
      path.join(root, 'rover.yaml'),
      `federation_version: =${compositionVersion()}\nsubgraphs:\n  user:\n    routing_url: http://localhost:4001/graphql\n    schema:\n      file: ./schema/user.graphql\n`,
    );
    fs.mkdirSync(path.join(root, 'schema/operations/storefront'), { recursive: true });
    fs.writeFileSync(path.join(root, 'schema/operations/storefront/me.graphql'), 'query Me { me { id email } }\n');
    opts = {
      rover: readRoverConfig(path.join(root, 'rover.yaml')),
      modules: [v1],
      supergraphFile: path.join(root, 'schema/supergraph.graphql'),
      api: {
        apiFile: path.join(root, 'schema/api.graphql'),
        operationsDir: path.join(root, 'schema/operations'),
        manifestFile: path.join(root, 'schema/persisted-queries.json'),
        intendedChangesFile: path.join(root, 'schema/intended-changes.yaml'),
      },
    };
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('writes the API baseline and the manifest, then passes the check', async () => {
    const written = writeSchemas((await generateSchemas(opts)).files).map((f) => path.relative(root, f));
    expect(written).toEqual(['schema/user.graphql', 'schema/supergraph.graphql', 'schema/api.graphql', 'schema/persisted-queries.json']);
    expect(fs.readFileSync(opts.api.apiFile, 'utf8')).toContain('nickname: String');
    expect(readManifest(opts.api.manifestFile).operations.map((o) => o.name)).toEqual(['Me']);
    await expect(checkSchemas(opts)).resolves.toEqual({ ok: true, messages: [], warnings: [] });
  });

  it('refuses an unlisted breaking change, writing nothing; accepts it once listed with a reason', async () => {
    writeSchemas((await generateSchemas(opts)).files);
    const baseline = fs.readFileSync(opts.api.apiFile, 'utf8');
    opts.modules = [v2];

    const refused = await generateSchemas(opts);
    expect(refused.files).toEqual([]);
    expect(refused.problems[0]).toBe('breaking change to the public API (against schema/api.graphql): FIELD_REMOVED: User.nickname was removed.');
    expect(refused.problems[1]).toMatch(/list each change in schema\/intended-changes\.yaml/);
    const check = await checkSchemas(opts);
    expect(check.ok).toBe(false);
    expect(check.messages).toContain('breaking change to the public API (against schema/api.graphql): FIELD_REMOVED: User.nickname was removed.');
    expect(fs.readFileSync(opts.api.apiFile, 'utf8')).toBe(baseline);

    fs.writeFileSync(opts.api.intendedChangesFile, 'changes:\n  - change: "FIELD_REMOVED: User.nickname was removed."\n    reason: "No client ever showed it."\n');
    const accepted = await generateSchemas(opts);
    expect(accepted.problems).toEqual([]);
    writeSchemas(accepted.files);
    expect(fs.readFileSync(opts.api.apiFile, 'utf8')).not.toContain('nickname');
    expect((await checkSchemas(opts)).ok).toBe(true);
  });

  it('compares with another baseline too (SCHEMA_BASE_REF), so editing schema/api.graphql by hand does not hide a break', async () => {
    writeSchemas((await generateSchemas(opts)).files);
    const mainApi = fs.readFileSync(opts.api.apiFile, 'utf8');
    opts.modules = [v2];
    fs.writeFileSync(opts.api.apiFile, mainApi.replace(/\s*nickname: String/, '')); // the hand edit
    fs.writeFileSync(path.join(root, 'schema/supergraph.graphql'), '');
    const result = await checkSchemas({ ...opts, api: { ...opts.api, base: { label: 'origin/main:schema/api.graphql', sdl: mainApi } } });
    expect(result.messages).toContain('breaking change to the public API (against origin/main:schema/api.graphql): FIELD_REMOVED: User.nickname was removed.');
  });

  it('an operation broken by a schema change fails the check', async () => {
    writeSchemas((await generateSchemas(opts)).files);
    fs.writeFileSync(path.join(root, 'schema/operations/storefront/me.graphql'), 'query Me { me { id email nickname } }\n');
    opts.modules = [v2];
    fs.writeFileSync(opts.api.intendedChangesFile, 'changes:\n  - change: "FIELD_REMOVED: User.nickname was removed."\n    reason: "x"\n');
    const result = await checkSchemas(opts);
    expect(result.messages).toContain('schema/operations/storefront/me.graphql:1:26: Cannot query field "nickname" on type "User".');
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { addTypenameToDocument } from '@apollo/client/utilities';
import {
  buildSchema,
  DocumentNode,
  FragmentDefinitionNode,
  Kind,
  OperationDefinitionNode,
  parse,
  print,
  stripIgnoredCharacters,
  visit,
} from 'graphql';
import gql from 'graphql-tag';
import type { SubgraphModule } from '@shop/kernel';
import { addTypename, normalizeOperation, operationId, readManifest } from '../../gateway/src/edge/safelist';
import * as generated from '../../storefront/src/gql/graphql';
import { ApiOptions, checkSchemas, compositionVersion, generateSchemas, writeSchemas } from '../lib/compose';
import {
  apiSchemaOf,
  checkOperations,
  compareApiSchemas,
  OperationSource,
  printApiSchema,
  readIntendedChanges,
  readOperationSources,
  usedCoordinates,
} from '../lib/operations';
import { readRoverConfig } from '../lib/rover';
import { API_FILE, MANIFEST_FILE, OPERATIONS_DIR, SUPERGRAPH_FILE } from '../paths';

const supergraph = fs.readFileSync(SUPERGRAPH_FILE, 'utf8');
const api = apiSchemaOf(supergraph);
const real = readOperationSources(OPERATIONS_DIR);
const at = (file: string, text: string): OperationSource => ({ file, text });

describe("the repository's client operations", () => {
  it('are valid against the API schema, within the gateway limits, and use every root field', () => {
    expect(real.map((s) => s.file)).toEqual(
      expect.arrayContaining(['storefront/account.graphql', 'admin/orders.graphql']),
    );
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
    const deep =
      'query Deep { deals { product { deal { product { deal { product { deal { product { deal { product { name } } } } } } } } } } }';
    expect(check(deep)).toEqual(['storefront/broken.graphql: Query depth limit of 10 exceeded, found 11.']);
  });

  it('syntax errors, unnamed operations and names used twice', () => {
    expect(check('query Broken { categories { slug }')).toEqual([
      expect.stringMatching(/^storefront\/broken\.graphql: Syntax Error/),
    ]);
    expect(check('{ categories { slug } }')).toEqual([
      'storefront/broken.graphql: every operation needs a name (clients and logs refer to it)',
    ]);
    expect(check('query Me { me { id } }')).toEqual([
      'storefront/broken.graphql: operation name Me is also used in storefront/account.graphql',
    ]);
  });

  it('a root field no operation uses', () => {
    const problems = checkOperations(
      api,
      real.filter((s) => s.file !== 'admin/orders.graphql'),
    ).problems;
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
    const b =
      '# product page\nfragment F on Product {\n  id,\n  name\n}\nquery Other { categories { slug } }\nquery Q($id: ID!) {\n  product(id: $id) { ...F }\n}';
    expect(id(b, 'Q')).toBe(id(a));
  });

  it("Apollo Client's __typename additions do not change the id; where the client puts them is part of the text", () => {
    const plain = 'query Q($id: ID!) { product(id: $id) { ...F images { url } } } fragment F on Product { id }';
    const apollo =
      'query Q($id: ID!) { product(id: $id) { ...F images { url __typename } __typename } } fragment F on Product { id __typename }';
    expect(id(apollo)).toBe(id(plain));
    expect(id('query Q { categories { slug } }')).toBe(id('query Q { categories { slug __typename } }'));
    // The operation's root gets none (Apollo adds none there), so one sent there is another operation.
    expect(id('query Q { __typename categories { slug } }')).not.toBe(id('query Q { categories { slug } }'));
  });

  it('a different selection, name or variable is another operation', () => {
    const base = id('query Q { categories { slug } }');
    expect(id('query Q { categories { slug name } }')).not.toBe(base);
    expect(id('query R { categories { slug } }')).not.toBe(base);
    expect(id('query Q($x: Int) { categories { slug } }')).not.toBe(base);
  });
});

describe("the safelist's __typename rule is Apollo Client's", () => {
  /** Each operation of schema/operations with the fragments it uses, in the manifest's order, untouched by us. */
  function operationsWithFragments(): { name: string; doc: DocumentNode }[] {
    const out: { name: string; doc: DocumentNode }[] = [];
    for (const src of real) {
      const document = parse(src.text);
      const fragments = new Map(
        document.definitions
          .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
          .map((d) => [d.name.value, d] as const),
      );
      for (const op of document.definitions.filter(
        (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
      )) {
        const used = new Map<string, FragmentDefinitionNode>();
        const walk = (node: OperationDefinitionNode | FragmentDefinitionNode) =>
          visit(node, {
            FragmentSpread: (s) => {
              const f = fragments.get(s.name.value);
              if (f && !used.has(f.name.value)) {
                used.set(f.name.value, f);
                walk(f);
              }
            },
          });
        walk(op);
        const sorted = [...used.values()].sort((a, b) => a.name.value.localeCompare(b.name.value));
        out.push({ name: op.name!.value, doc: { kind: Kind.DOCUMENT, definitions: [op, ...sorted] } });
      }
    }
    return out;
  }

  it("every manifest body is stripIgnoredCharacters(print(addTypenameToDocument(doc))) with Apollo's function", () => {
    const manifest = readManifest(MANIFEST_FILE);
    const ops = operationsWithFragments();
    expect(ops.map((o) => o.name).sort()).toEqual(manifest.operations.map((o) => o.name).sort());
    for (const { name, doc } of ops) {
      const entry = manifest.operations.find((o) => o.name === name)!;
      expect({ name, body: entry.body }).toEqual({
        name,
        body: stripIgnoredCharacters(print(addTypenameToDocument(doc))),
      });
      expect(entry.id).toBe(operationId(entry.body));
      // Ours agrees with Apollo's on the whole document too, and adding twice changes nothing.
      expect(print(addTypename(doc))).toBe(print(addTypenameToDocument(doc)));
      expect(print(addTypename(addTypename(doc)))).toBe(print(addTypename(doc)));
    }
  });

  it('introspection fields and @export selections get none, as in Apollo Client', () => {
    for (const text of [
      'query Q { __schema { types { name } } categories { slug } }',
      'query Q { categories { __typename slug } me { id @export(as: "x") { a } } }',
      'query Q { categories { ... on Category { slug } } }',
    ]) {
      const doc = parse(text);
      expect(print(addTypename(doc))).toBe(print(addTypenameToDocument(doc)));
    }
  });

  it("the storefront's generated documents (what Apollo Client sends) have the manifest's ids", () => {
    const manifest = readManifest(MANIFEST_FILE);
    const documents = Object.entries(generated).filter(([k]) => k.endsWith('Document')) as [string, DocumentNode][];
    expect(documents.length).toBeGreaterThanOrEqual(20);
    for (const [, doc] of documents) {
      // Apollo Client runs addTypenameToDocument again before its links: a no-op on the generated documents.
      const sent = addTypenameToDocument(doc);
      expect(print(sent)).toBe(print(doc));
      const n = normalizeOperation(sent)!;
      const entry = manifest.operations.find((o) => o.name === n.operation.name!.value);
      expect(entry && { name: entry.name, id: entry.id }).toEqual({
        name: n.operation.name!.value,
        id: operationId(n.body),
      });
    }
  });
});

describe('breaking changes of the API schema', () => {
  const before =
    'type Query { product(id: ID!): Product products(first: Int): [Product!]! }\ntype Product { id: ID! name: String! weight: Int }\nenum Sort { NAME PRICE }';

  it('a removed field, a new required argument and a changed type are breaking; additions are not', async () => {
    const after =
      'type Query { product(id: ID!, locale: String!): Product products(first: Int, search: String): [Product!]! }\ntype Product { id: ID! name: String sku: String }\nenum Sort { NAME PRICE }';
    const cmp = await compareApiSchemas(before, after, []);
    expect(cmp.unlisted.sort()).toEqual([
      "FIELD_ARGUMENT_ADDED: Argument 'locale: String!' added to field 'Query.product'",
      "FIELD_REMOVED: Field 'weight' was removed from object type 'Product'",
      "FIELD_TYPE_CHANGED: Field 'Product.name' changed type from 'String!' to 'String'",
    ]);
    expect(cmp.intended).toEqual([]);
    expect(cmp.dangerous).toEqual(["FIELD_ARGUMENT_ADDED: Argument 'search: String' added to field 'Query.products'"]);
  });

  it('a listed change is allowed (by its printed line or its message)', async () => {
    const after =
      'type Query { product(id: ID!): Product products(first: Int): [Product!]! }\ntype Product { id: ID! }\nenum Sort { NAME PRICE }';
    const cmp = await compareApiSchemas(before, after, [
      { change: "FIELD_REMOVED: Field 'weight' was removed from object type 'Product'", reason: 'moved to shipping' },
      { change: "Field 'name' was removed from object type 'Product'", reason: 'renamed to title' },
    ]);
    expect(cmp.unlisted).toEqual([]);
    expect(cmp.intended.sort()).toEqual([
      "FIELD_REMOVED: Field 'name' was removed from object type 'Product'",
      "FIELD_REMOVED: Field 'weight' was removed from object type 'Product'",
    ]);
  });

  it('a new enum value is dangerous, not breaking', async () => {
    const cmp = await compareApiSchemas(before, before.replace('NAME PRICE', 'NAME PRICE NEWEST'), []);
    expect(cmp.unlisted).toEqual([]);
    expect(cmp.dangerous).toEqual(["ENUM_VALUE_ADDED: Enum value 'NEWEST' was added to enum 'Sort'"]);
  });

  it('a breaking change to a coordinate no operation uses is reported as unused, not failing', async () => {
    const after =
      'type Query { product(id: ID!): Product products(first: Int): [Product!]! }\ntype Product { id: ID! name: String }\nenum Sort { NAME PRICE }';
    const used = usedCoordinates(buildSchema(before), [
      at('storefront/p.graphql', 'query P($id: ID!) { product(id: $id) { id name } }'),
    ]);
    const cmp = await compareApiSchemas(before, after, [], (c) => used.has(c));
    expect(cmp.unlisted).toEqual(["FIELD_TYPE_CHANGED: Field 'Product.name' changed type from 'String!' to 'String'"]);
    expect(cmp.unused).toEqual(["FIELD_REMOVED: Field 'weight' was removed from object type 'Product'"]);
  });

  it('an intended change needs a reason', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intended-'));
    const file = path.join(dir, 'intended-changes.yaml');
    fs.writeFileSync(
      file,
      "changes:\n  - change: \"FIELD_REMOVED: Field 'weight' was removed from object type 'Product'\"\n",
    );
    expect(readIntendedChanges(file).problems).toEqual([
      "intended-changes.yaml: changes[0] (\"FIELD_REMOVED: Field 'weight' was removed from object type 'Product'\") needs a reason",
    ]);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('what the operations use (schema coordinates)', () => {
  const schema = buildSchema(`
    interface Node { id: ID! }
    type Product implements Node { id: ID! name: String! status: Status! price(currency: String): Int }
    type User implements Node { id: ID! email: String! }
    enum Status { DRAFT LIVE }
    enum Sort { NAME PRICE }
    input Filter { status: Status text: String range: Range }
    input Range { min: Int max: Int }
    input Page { first: Int after: String }
    type Query { node(id: ID!): Node products(filter: Filter, sort: Sort, page: Page): [Product!]! }
  `);

  it('fields (through interfaces on every implementation), arguments, literal input fields and enum values, variables whole', () => {
    const used = usedCoordinates(schema, [
      at('a.graphql', 'query A($id: ID!) { node(id: $id) { id ... on Product { price(currency: "EUR") } } }'),
      at(
        'b.graphql',
        'query B($page: Page) { products(filter: { text: "x" }, sort: NAME, page: $page) { name status @include(if: true) } }',
      ),
    ]);
    for (const c of [
      'Query',
      'Query.node',
      'Query.node.id',
      'Node.id',
      'Product.id',
      'User.id',
      'Product.price.currency',
      'Product',
      'Filter.text',
      'Sort.NAME',
      'Page.first',
      'Page.after',
      'Status.DRAFT',
      'Status.LIVE',
      '@include',
      '@include.if',
    ]) {
      expect([c, used.has(c)]).toEqual([c, true]);
    }
    for (const c of ['User.email', 'Filter.status', 'Filter.range', 'Range', 'Sort.PRICE', 'Product.price.other']) {
      expect([c, used.has(c)]).toEqual([c, false]);
    }
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
  const v1 = fakeModule(
    'type User @key(fields: "id") { id: ID! email: String! nickname: String }\ntype Query { me: User }',
  );
  // email becomes nullable (Me reads it: breaking for that client), nickname is removed (no operation reads it)
  const v2 = fakeModule('type User @key(fields: "id") { id: ID! email: String }\ntype Query { me: User }');
  const EMAIL = "FIELD_TYPE_CHANGED: Field 'User.email' changed type from 'String!' to 'String'";
  const NICKNAME = "FIELD_REMOVED: Field 'nickname' was removed from object type 'User'";

  let root: string;
  let opts: {
    rover: ReturnType<typeof readRoverConfig>;
    modules: SubgraphModule[];
    supergraphFile: string;
    api: ApiOptions;
  };
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
    expect(written).toEqual([
      'schema/user.graphql',
      'schema/supergraph.graphql',
      'schema/api.graphql',
      'schema/persisted-queries.json',
    ]);
    expect(fs.readFileSync(opts.api.apiFile, 'utf8')).toContain('nickname: String');
    expect(readManifest(opts.api.manifestFile).operations.map((o) => o.name)).toEqual(['Me']);
    await expect(checkSchemas(opts)).resolves.toEqual({ ok: true, messages: [], warnings: [] });
  });

  it('a breaking change used by an operation fails, writing nothing, while an unused removal only warns; accepted once listed with a reason', async () => {
    writeSchemas((await generateSchemas(opts)).files);
    const baseline = fs.readFileSync(opts.api.apiFile, 'utf8');
    opts.modules = [v2];

    const refused = await generateSchemas(opts);
    expect(refused.files).toEqual([]);
    expect(refused.problems).toEqual([
      `breaking change to the public API (against schema/api.graphql): ${EMAIL}`,
      expect.stringMatching(/list each change in schema\/intended-changes\.yaml/),
    ]);
    expect(refused.warnings).toEqual([
      `breaking change to what no operation in schema/operations uses (against schema/api.graphql): ${NICKNAME}`,
    ]);
    const check = await checkSchemas(opts);
    expect(check.ok).toBe(false);
    expect(check.messages).toContain(`breaking change to the public API (against schema/api.graphql): ${EMAIL}`);
    expect(check.messages.join('\n')).not.toContain('nickname');
    expect(check.warnings).toEqual([
      `breaking change to what no operation in schema/operations uses (against schema/api.graphql): ${NICKNAME}`,
    ]);
    expect(fs.readFileSync(opts.api.apiFile, 'utf8')).toBe(baseline);

    fs.writeFileSync(
      opts.api.intendedChangesFile,
      `changes:\n  - change: "${EMAIL}"\n    reason: "Accounts without an email address (phone sign-up)."\n`,
    );
    const accepted = await generateSchemas(opts);
    expect(accepted.problems).toEqual([]);
    writeSchemas(accepted.files);
    expect(fs.readFileSync(opts.api.apiFile, 'utf8')).not.toContain('nickname');
    expect((await checkSchemas(opts)).ok).toBe(true);
  });

  it('the same removal fails once an operation reads the field', async () => {
    writeSchemas((await generateSchemas(opts)).files);
    fs.writeFileSync(
      path.join(root, 'schema/operations/storefront/profile.graphql'),
      'query Profile { me { nickname } }\n',
    );
    opts.modules = [fakeModule('type User @key(fields: "id") { id: ID! email: String! }\ntype Query { me: User }')];
    const result = await generateSchemas(opts);
    expect(result.problems).toContain(`breaking change to the public API (against schema/api.graphql): ${NICKNAME}`);
    expect(result.warnings).toEqual([]);
  });

  it('compares with another baseline too (SCHEMA_BASE_REF), so editing schema/api.graphql by hand does not hide a break', async () => {
    writeSchemas((await generateSchemas(opts)).files);
    const mainApi = fs.readFileSync(opts.api.apiFile, 'utf8');
    opts.modules = [v2];
    fs.writeFileSync(opts.api.apiFile, mainApi.replace('email: String!', 'email: String')); // the hand edit
    fs.writeFileSync(path.join(root, 'schema/supergraph.graphql'), '');
    const result = await checkSchemas({
      ...opts,
      api: { ...opts.api, base: { label: 'origin/main:schema/api.graphql', sdl: mainApi } },
    });
    expect(result.messages).toContain(
      `breaking change to the public API (against origin/main:schema/api.graphql): ${EMAIL}`,
    );
    expect(result.messages.filter((m) => m.startsWith('breaking change'))).toEqual([
      `breaking change to the public API (against origin/main:schema/api.graphql): ${EMAIL}`,
    ]);
  });

  it('an operation broken by a schema change fails the check', async () => {
    writeSchemas((await generateSchemas(opts)).files);
    fs.writeFileSync(
      path.join(root, 'schema/operations/storefront/me.graphql'),
      'query Me { me { id email nickname } }\n',
    );
    opts.modules = [v2];
    fs.writeFileSync(
      opts.api.intendedChangesFile,
      `changes:\n  - change: "${NICKNAME}"\n    reason: "x"\n  - change: "${EMAIL}"\n    reason: "x"\n`,
    );
    const result = await checkSchemas(opts);
    expect(result.messages).toContain(
      'schema/operations/storefront/me.graphql:1:26: Cannot query field "nickname" on type "User".',
    );
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import gql from 'graphql-tag';
import type { SubgraphModule } from '@shop/kernel';
import { checkSchemas, compositionVersion, generateSchemas, writeSchemas } from '../lib/compose';
import { parseRoverConfig, readRoverConfig } from '../lib/rover';

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])';

function fakeModule(name: string, sdl: string): SubgraphModule {
  return {
    name: name as SubgraphModule['name'],
    buildSchema: async () => buildSubgraphSchema({ typeDefs: gql(`${LINK}\n${sdl}`) }),
    start: async () => {
      throw new Error('not used');
    },
  };
}

const user = fakeModule('user', 'type User @key(fields: "id") { id: ID! email: String! }\ntype Query { me: User }');
const notification = fakeModule(
  'notification',
  'type User @key(fields: "id") { id: ID! emails: [String!]! }\ntype Query { emailCount: Int! }',
);

/** A throwaway repository root with a rover.yaml for the given subgraphs. */
function tempRoot(
  names: string[],
  federationVersion = `=${compositionVersion()}`,
): { root: string; roverFile: string; supergraphFile: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-test-'));
  const ports: Record<string, number> = { user: 4001, notification: 4006 };
  const yaml = [
    `federation_version: ${federationVersion}`,
    'subgraphs:',
    ...names.flatMap((n) => [
      `  ${n}:`,
      `    routing_url: http://localhost:${ports[n] ?? 4999}/graphql`,
      '    schema:',
      `      file: ./schema/${n}.graphql`,
    ]),
  ].join('\n');
  const roverFile = path.join(root, 'rover.yaml');
  fs.writeFileSync(roverFile, `${yaml}\n`);
  return { root, roverFile, supergraphFile: path.join(root, 'schema', 'supergraph.graphql') };
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

async function composedRoot(modules: SubgraphModule[], names = modules.map((m) => m.name as string)) {
  const t = tempRoot(names);
  roots.push(t.root);
  const opts = { rover: readRoverConfig(t.roverFile), modules, supergraphFile: t.supergraphFile };
  return { ...t, opts };
}

describe('rover.yaml', () => {
  it('reads the repository rover.yaml: every subgraph routed to localhost on its default port, schema under schema/', () => {
    const rover = readRoverConfig(path.resolve(__dirname, '../../rover.yaml'));
    expect(rover.federationVersion).toBe(`=${compositionVersion()}`);
    for (const s of rover.subgraphs) {
      expect(s.routingUrl).toMatch(/^http:\/\/localhost:400[1-6]\/graphql$/);
      expect(s.schemaFile).toBe(path.resolve(__dirname, '../../schema', `${s.name}.graphql`));
    }
  });

  it('rejects a subgraph without routing_url or schema.file', () => {
    expect(() =>
      parseRoverConfig('federation_version: =2.14.4\nsubgraphs:\n  user:\n    schema: {}\n', '/x/rover.yaml'),
    ).toThrow(/subgraphs\.user\.routing_url[\s\S]*subgraphs\.user\.schema\.file/);
  });
});

describe('npm run compose', () => {
  it('passes the check after writing the files of a clean state', async () => {
    const { root, opts } = await composedRoot([user, notification]);
    const generated = await generateSchemas(opts);
    expect(generated.problems).toEqual([]);
    expect(generated.compositionErrors).toEqual([]);
    expect(writeSchemas(generated.files).map((f) => path.relative(root, f))).toEqual([
      'schema/user.graphql',
      'schema/notification.graphql',
      'schema/supergraph.graphql',
    ]);
    const supergraph = fs.readFileSync(opts.supergraphFile, 'utf8');
    expect(supergraph).toContain('@join__graph(name: "user", url: "http://localhost:4001/graphql")');
    expect(supergraph).toContain('@join__graph(name: "notification", url: "http://localhost:4006/graphql")');
    expect(fs.readFileSync(path.join(root, 'schema/user.graphql'), 'utf8')).toContain('type User');

    await expect(checkSchemas(opts)).resolves.toEqual({ ok: true, messages: [] });
    // Writing again changes nothing.
    expect(writeSchemas((await generateSchemas(opts)).files)).toEqual([]);
  });

  it('fails the check naming each stale or missing file', async () => {
    const { root, opts } = await composedRoot([user, notification]);
    writeSchemas((await generateSchemas(opts)).files);
    fs.appendFileSync(path.join(root, 'schema/user.graphql'), '\ntype Stale { x: Int }\n');
    fs.rmSync(opts.supergraphFile);

    const result = await checkSchemas(opts);
    expect(result.ok).toBe(false);
    expect(result.messages).toEqual([
      expect.stringMatching(/^schema\/user\.graphql is stale .*npm run compose/),
      expect.stringMatching(/^schema\/supergraph\.graphql is missing.*npm run compose/),
    ]);
    // The check wrote nothing.
    expect(fs.existsSync(opts.supergraphFile)).toBe(false);
  });

  it('fails on conflicting subgraphs with the composition error, writing nothing', async () => {
    const a = fakeModule('user', 'type Query { x: String }');
    const b = fakeModule('notification', 'type Query { x: Int }');
    const { root, opts } = await composedRoot([a, b]);

    const generated = await generateSchemas(opts);
    expect(generated.files).toEqual([]);
    expect(generated.compositionErrors.join('\n')).toMatch(/Query\.x/);

    const result = await checkSchemas(opts);
    expect(result.ok).toBe(false);
    const text = result.messages.join('\n');
    expect(text).toContain('composition failed:');
    expect(text).toMatch(/Non-shareable field "Query\.x" is resolved from multiple subgraphs/);
    expect(text).toMatch(/Type of field "Query\.x" is incompatible across subgraphs/);
    expect(fs.existsSync(path.join(root, 'schema'))).toBe(false);
  });

  it('fails on a @key type whose field types conflict', async () => {
    const a = fakeModule(
      'user',
      'type User @key(fields: "id") { id: ID! age: Int @shareable }\ntype Query { me: User }',
    );
    const b = fakeModule(
      'notification',
      'type User @key(fields: "id") { id: ID! age: String @shareable }\ntype Query { n: Int }',
    );
    const { opts } = await composedRoot([a, b]);
    const result = await checkSchemas(opts);
    expect(result.ok).toBe(false);
    expect(result.messages.join('\n')).toMatch(/"User\.age" is incompatible/);
  });

  it('fails when rover.yaml and the registry disagree', async () => {
    const { opts } = await composedRoot([user], ['user', 'notification']);
    expect((await checkSchemas(opts)).messages).toContain(
      'rover.yaml lists subgraph "notification" but scripts/subgraphs.ts has no module for it',
    );
    const other = await composedRoot([user, notification], ['user']);
    expect((await checkSchemas(other.opts)).messages).toContain(
      'subgraph module "notification" is registered in scripts/subgraphs.ts but missing from rover.yaml',
    );
  });

  it('fails when rover.yaml pins another federation version than the composition library', async () => {
    const t = tempRoot(['user'], '=2.7.1');
    roots.push(t.root);
    const opts = { rover: readRoverConfig(t.roverFile), modules: [user], supergraphFile: t.supergraphFile };
    writeSchemas((await generateSchemas(opts)).files);
    const result = await checkSchemas(opts);
    expect(result.messages).toEqual([expect.stringContaining(`set it to "=${compositionVersion()}"`)]);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/** One subgraph as rover.yaml describes it. */
export interface RoverSubgraph {
  name: string;
  /** URL the gateway sends this subgraph's operations to (written into the supergraph). */
  routingUrl: string;
  /** Absolute path of the subgraph's SDL file (`schema.file`, relative to rover.yaml). */
  schemaFile: string;
}

export interface RoverConfig {
  /** Absolute path of rover.yaml. */
  file: string;
  /** As written, e.g. `=2.14.4`. */
  federationVersion: string;
  subgraphs: RoverSubgraph[];
}

/**
 * Parses rover's supergraph config format (the file `rover supergraph compose --config rover.yaml` reads).
 * Only the parts this repository uses are accepted: every subgraph has `routing_url` and `schema.file`.
 */
export function parseRoverConfig(text: string, file: string): RoverConfig {
  const problems: string[] = [];
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  const root = (doc ?? {}) as Record<string, unknown>;
  const federationVersion = String(root.federation_version ?? '');
  if (!/^(=2\.\d+\.\d+|2)$/.test(federationVersion)) {
    problems.push(`federation_version must be "=2.<minor>.<patch>" (or "2"), got "${federationVersion}"`);
  }
  const subgraphs: RoverSubgraph[] = [];
  const raw = root.subgraphs;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push('subgraphs must be a mapping of subgraph name to { routing_url, schema: { file } }');
  } else {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      const entry = (value ?? {}) as { routing_url?: unknown; schema?: { file?: unknown } };
      const routingUrl = entry.routing_url;
      const schemaFile = entry.schema?.file;
      if (typeof routingUrl !== 'string' || !/^https?:\/\//.test(routingUrl)) {
        problems.push(`subgraphs.${name}.routing_url must be an http(s) URL`);
      }
      if (typeof schemaFile !== 'string' || !schemaFile) {
        problems.push(`subgraphs.${name}.schema.file must name the subgraph's SDL file`);
      }
      if (typeof routingUrl === 'string' && typeof schemaFile === 'string') {
        subgraphs.push({ name, routingUrl, schemaFile: path.resolve(path.dirname(file), schemaFile) });
      }
    }
  }
  if (problems.length) throw new Error(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return { file, federationVersion, subgraphs };
}

export function readRoverConfig(file: string): RoverConfig {
  return parseRoverConfig(fs.readFileSync(file, 'utf8'), path.resolve(file));
}

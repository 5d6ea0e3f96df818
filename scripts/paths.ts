import path from 'node:path';

/** Repository root, whether running from scripts/ (ts-jest/swc) or dist/scripts/ (compiled). */
export const ROOT = path.resolve(__dirname, path.basename(path.dirname(__dirname)) === 'dist' ? '../..' : '..');
export const ROVER_FILE = path.join(ROOT, 'rover.yaml');
export const SUPERGRAPH_FILE = path.join(ROOT, 'schema', 'supergraph.graphql');
export const API_FILE = path.join(ROOT, 'schema', 'api.graphql');
export const OPERATIONS_DIR = path.join(ROOT, 'schema', 'operations');
export const MANIFEST_FILE = path.join(ROOT, 'schema', 'persisted-queries.json');
export const INTENDED_CHANGES_FILE = path.join(ROOT, 'schema', 'intended-changes.yaml');
/** The supergraph with in-cluster routing URLs, mounted into the gateway from a ConfigMap (deploy/k8s). */
export const K8S_SUPERGRAPH_FILE = path.join(ROOT, 'deploy', 'k8s', 'base', 'supergraph.graphql');

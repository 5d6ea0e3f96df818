import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { SubgraphModule } from './service';

export interface ComposedSupergraph {
  supergraphSdl: string;
  subgraphSdl: Record<string, string>;
}

export class CompositionError extends Error {
  constructor(readonly errors: string[]) {
    super(`Composition failed:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
  }
}

/** Composes subgraph SDL strings into a supergraph (throws CompositionError listing every problem). */
export function composeSdl(subgraphs: { name: string; url: string; sdl: string }[]): string {
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })));
  if (result.errors?.length) throw new CompositionError(result.errors.map((e) => e.message));
  return result.supergraphSdl!;
}

/** Prints each module's subgraph SDL and composes them; `urls` are the routing URLs written into the supergraph. */
export async function composeModules(
  modules: SubgraphModule[],
  urls: Record<string, string>,
): Promise<ComposedSupergraph> {
  const subgraphSdl: Record<string, string> = {};
  for (const m of modules) subgraphSdl[m.name] = printSubgraphSchema(await m.buildSchema());
  const supergraphSdl = composeSdl(modules.map((m) => ({ name: m.name, url: urls[m.name], sdl: subgraphSdl[m.name] })));
  return { supergraphSdl, subgraphSdl };
}

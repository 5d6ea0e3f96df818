/**
 * The Kubernetes deployment (deploy/k8s): the gateway's supergraph routes each subgraph to its Service, named like the
 * subgraph, on the subgraph's port (`http://user:4001/graphql`), instead of rover.yaml's localhost routing URLs.
 */
export function inClusterSupergraph(sdl: string): string {
  return sdl.replace(/@join__graph\(name: "([a-z]+)", url: "([^"]*)"\)/g, (_m, name: string, url: string) => {
    const u = new URL(url);
    u.hostname = name;
    return `@join__graph(name: "${name}", url: "${u.toString()}")`;
  });
}

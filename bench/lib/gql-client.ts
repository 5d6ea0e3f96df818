import http from 'node:http';
import type { GraphQLResponse } from '@shop/kernel/testing';

/**
 * GraphQL over node:http with kept-alive connections, for load generators that share the machine with what they
 * measure. The tests' `graphql` helper uses fetch: undici's fetch with its WHATWG streams cost the checkout bench
 * about twice this per request, CPU taken from the services on the same two cores.
 */
export function gqlClient(url: string): {
  post(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<any>>;
  close(): void;
} {
  const target = new URL(url);
  // Idle sockets are let go before the server's keep-alive timeout (65 s), so a request never lands on one it closes.
  const agent = new http.Agent({ keepAlive: true, timeout: 30_000 });
  return {
    post(query, variables = {}, token) {
      const body = JSON.stringify({ query, variables });
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            agent,
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              try {
                resolve(JSON.parse(text) as GraphQLResponse<any>);
              } catch {
                resolve({ errors: [{ message: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` }] });
              }
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

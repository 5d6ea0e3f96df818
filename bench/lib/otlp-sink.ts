/**
 * An OTLP/HTTP receiver that accepts spans and throws them away, for measuring what tracing costs the traced processes
 * (bench/gateways.ts starts it as its own process when a variant names `{otlp-sink}`). It answers every export like a
 * collector (200, an empty ExportTraceServiceResponse in the request's encoding) and, when stopped, prints how many
 * exports and bytes it took.
 *
 *   node dist/bench/lib/otlp-sink.js --port 4318
 */
import http from 'node:http';
import { numberArg } from './args';

const port = numberArg('port', 4318);
let batches = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    if (req.method !== 'POST') return void res.writeHead(200).end('ok'); // readiness
    batches++;
    const json = /json/.test(req.headers['content-type'] ?? '');
    // An empty protobuf message is zero bytes; its JSON form is `{}`.
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
  });
});
server.listen(port, '127.0.0.1', () => console.log(`[otlp-sink] listening on http://127.0.0.1:${port}`));
const stop = () => {
  console.log(`[otlp-sink] ${batches} exports, ${(bytes / 2 ** 20).toFixed(1)} MiB received and discarded`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { coalesceWrites } from '../src/coalesce';
import { countWrites } from './socket-writes';

/** A server that sends `n` frames in one turn to the first client; counts the system calls that carried them. */
async function sendBurst(n: number, coalesce: boolean): Promise<{ received: string[]; syscalls: number }> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  let syscalls = () => 0;
  wss.on('connection', (ws, req) => {
    if (coalesce) coalesceWrites(req.socket);
    syscalls = countWrites(req.socket);
    for (let i = 0; i < n; i++) void Promise.resolve().then(() => ws.send(`frame ${i}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const received: string[] = [];
  await new Promise<void>((resolve) =>
    client.on('message', (data) => {
      received.push(String(data));
      if (received.length === n) resolve();
    }),
  );
  const counted = syscalls(); // before the closing handshake's frames
  client.close();
  wss.close();
  await new Promise((r) => server.close(r));
  return { received, syscalls: counted };
}

test('frames sent in one turn leave in one system call, complete and in order', async () => {
  const expected = Array.from({ length: 200 }, (_, i) => `frame ${i}`);
  const plain = await sendBurst(200, false);
  const coalesced = await sendBurst(200, true);
  expect(plain.received).toEqual(expected);
  expect(coalesced.received).toEqual(expected);
  expect(plain.syscalls).toBe(200);
  expect(coalesced.syscalls).toBe(1);
});

test('a socket that ends while corked still delivers what was written', async () => {
  const server = http.createServer((_req, res) => res.end());
  server.on('connection', (socket: Socket) => {
    coalesceWrites(socket);
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n');
    socket.end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  expect(await res.text()).toBe('hello');
  await new Promise((r) => server.close(r));
});

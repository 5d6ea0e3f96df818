// proxy-addr (Express's own dependency for req.ip) ships no types.
declare module 'proxy-addr' {
  import type { IncomingMessage } from 'node:http';
  type Trust = (addr: string, i: number) => boolean;
  function proxyaddr(req: IncomingMessage, trust: Trust | string | string[]): string;
  namespace proxyaddr {
    function all(req: IncomingMessage, trust?: Trust | string | string[]): string[];
    function compile(val: string | string[]): Trust;
  }
  export = proxyaddr;
}

// cookie 2 is an ES module published through package "exports", which moduleResolution "node" cannot see. Node
// (≥ 20.19, require(esm)) loads it at run time, jest through SWC (jest.config.js); this maps the types.
declare module 'cookie' {
  export * from 'cookie/dist/index';
}

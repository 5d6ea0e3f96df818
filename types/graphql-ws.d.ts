// graphql-ws 6 publishes its subpaths through package "exports", which moduleResolution "node" cannot see.
// Node and jest resolve them at run time; this maps the types.
declare module 'graphql-ws/use/ws' {
  export * from 'graphql-ws/dist/use/ws';
}

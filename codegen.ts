// GraphQL Code Generator: typed documents (TypedDocumentNode) for every operation in schema/operations, from the public
// API schema. `npm run codegen` writes storefront/src/gql/; `npm run codegen -- --check` (part of `npm test`) fails
// when an operation or the schema changed without regenerating.
import type { CodegenConfig } from '@graphql-codegen/cli';
import type { Types } from '@graphql-codegen/plugin-helpers';
import { addTypenameToDocument } from '@apollo/client/utilities';

/** Apollo Client's own __typename rule (every selection set but the operation's root), so documents match what it sends. */
const apolloTypenames: Types.DocumentTransformObject = {
  transform: ({ documents }) =>
    documents.map((d) => ({ ...d, document: d.document && addTypenameToDocument(d.document) })),
};

const config: CodegenConfig = {
  schema: 'schema/api.graphql',
  documents: [
    'schema/operations/storefront/**/*.graphql',
    'schema/operations/admin/**/*.graphql',
    'schema/operations/realtime/**/*.graphql',
  ],
  ignoreNoDocuments: false,
  generates: {
    'storefront/src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      // Apollo Client adds __typename to every selection; the generated documents already carry it, so what the
      // storefront sends is exactly what the safelist holds (gateway/src/edge/safelist.ts adds it the same way).
      documentTransforms: [apolloTypenames],
      config: { enumsAsTypes: true, useTypeImports: true, scalars: { DateTime: 'string', JSON: 'unknown' } },
    },
  },
};
export default config;

// Validates Kubernetes objects against the API's JSON schemas (kubernetes-models' generated validators): reads a JSON
// array of objects on stdin, prints a JSON array of `{ kind, name, error }` for the invalid ones (empty: all valid).
// A separate Node process because kubernetes-models is ESM-only and jest runs the tests as CommonJS.
const input = JSON.parse(
  await new Promise((resolve) => {
    let text = '';
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => resolve(text));
  }),
);
const problems = [];
for (const object of input) {
  const { apiVersion, kind } = object;
  const name = object.metadata?.name;
  let Model;
  try {
    Model = (await import(`kubernetes-models/${apiVersion}`))[kind];
  } catch {
    Model = undefined;
  }
  if (!Model) {
    problems.push({ kind, name, error: `no schema for ${apiVersion} ${kind}` });
    continue;
  }
  try {
    new Model(object).validate();
  } catch (err) {
    problems.push({ kind, name, error: err.message });
  }
}
process.stdout.write(JSON.stringify(problems));

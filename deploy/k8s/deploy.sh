#!/bin/sh
# deploy/k8s/deploy.sh dev|production — applies an overlay in the order the shop needs (docs/deploying.md):
#   1. the namespace and the generated ConfigMaps;
#   2. the migration Jobs (the previous release's finished Jobs are deleted first: a Job's template is immutable),
#      waited for until every database exists and is migrated;
#   3. everything else (Deployments roll over to the new image once the schema is ready for it).
# The Secret `shop-secrets` must exist in the namespace beforehand (deploy/k8s/secrets.env.example).
set -eu
overlay=${1:?usage: deploy/k8s/deploy.sh dev|production}
dir=$(dirname "$0")/overlays/$overlay
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
kubectl kustomize "$dir" >"$rendered"

kubectl apply -f "$rendered" -l 'app.kubernetes.io/component in (namespace,config)'
kubectl delete -f "$rendered" -l app.kubernetes.io/component=migration --ignore-not-found --wait
kubectl apply -f "$rendered" -l app.kubernetes.io/component=migration
kubectl wait -f "$rendered" -l app.kubernetes.io/component=migration --for=condition=complete --timeout=15m
kubectl apply -f "$rendered"

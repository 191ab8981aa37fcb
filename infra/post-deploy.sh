#!/usr/bin/env bash
# After `az deployment group create` of infra/bicep/main.bicep: publish the function code, turn on the
# Event Grid subscription (the function must exist first), upload the unification config, and run the
# one-time SQL Bicep cannot (the database, and the function identity as its user).
#
#   infra/post-deploy.sh RESOURCE_GROUP CONFIG_YAML [DEPLOYMENT_NAME]
#
# Needs: az (logged in), zip, git, sqlcmd (go-sqlcmd), and the repository's .venv (make run creates it).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 RESOURCE_GROUP CONFIG_YAML [DEPLOYMENT_NAME]" >&2
  exit 2
fi
resource_group=$1
config_file=$2
deployment=${3:-main}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
c360="$repo/.venv/bin/c360"

for tool in az zip git sqlcmd; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
[[ -x "$c360" ]] || { echo "run 'make run' or 'make .venv/.installed' first (needs $c360)" >&2; exit 1; }
"$c360" validate "$config_file"

output() {
  az deployment group show --resource-group "$resource_group" --name "$deployment" \
    --query "properties.outputs.$1.value" --output tsv
}
app=$(output functionAppName)
lake=$(output lakeAccountName)
sql_endpoint=$(output sqlEndpoint)
database=$(output sqlDatabase)
identity=$(output functionIdentityName)
container=$(output lakeContainer)

echo "1/4 publishing the function code to $app"
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
git -C "$repo" archive --format=zip --output "$workdir/c360.zip" HEAD -- \
  function_app.py host.json requirements.txt activities orchestrators shared
az functionapp deployment source config-zip --resource-group "$resource_group" --name "$app" \
  --src "$workdir/c360.zip" --build-remote true --output none

echo "2/4 creating the Event Grid subscription (BlobCreated under the landing prefix)"
az deployment group create --resource-group "$resource_group" --name "$deployment" \
  --template-file "$here/bicep/main.bicep" --parameters "@$here/bicep/main.parameters.json" \
  --parameters enableEventSubscription=true --output none

echo "3/4 uploading the unification config to the lake"
az storage blob upload --auth-mode login --account-name "$lake" --container-name "$container" \
  --name config/c360.yaml --file "$config_file" --overwrite --output none

echo "4/4 one-time SQL on $sql_endpoint"
"$c360" synapse-sql master --database "$database" > "$workdir/master.sql"
"$c360" synapse-sql database --identity "$identity" --database "$database" > "$workdir/database.sql"
sqlcmd --server "$sql_endpoint" --database-name master --authentication-method ActiveDirectoryAzCli \
  --input-file "$workdir/master.sql"
sqlcmd --server "$sql_endpoint" --database-name "$database" --authentication-method ActiveDirectoryAzCli \
  --input-file "$workdir/database.sql"

echo "done: land files under lake/landing/ in $lake; runs start on arrival."
echo "run API: https://$(output functionAppHostName)/api/runs (function key: az functionapp keys list)"

// c360 on Azure: the lake, the Functions app that unifies it, Event Grid on file arrival, and Synapse
// serverless SQL for the views. Managed identities only: no keys, passwords or connection strings.
targetScope = 'resourceGroup'

@description('Required. Short token every resource name derives from (3-11 lower-case letters or digits).')
@minLength(3)
@maxLength(11)
param name string

@description('Optional. Region of every resource. Default: the resource group\'s region.')
param location string = resourceGroup().location

@description('Required. Object id of the Entra ID user or group that administers the Synapse workspace.')
param synapseAdminObjectId string

@description('Optional. Container (file system) of the lake. Default: lake.')
param lakeContainer string = 'lake'

@description('Optional. Lake folder where source extracts land; only files under it start runs. Default: landing.')
param landingPrefix string = 'landing'

@description('Optional. Database of the logical data warehouse in Synapse serverless SQL. Default: c360.')
param sqlDatabase string = 'c360'

@description('Optional. Schema of the published views. Default: c360.')
param sqlSchema string = 'c360'

@description('Optional. Create the Event Grid subscription to the function (the function code must be deployed first). Default: false.')
param enableEventSubscription bool = false

@description('Optional. Seconds without new files before a run starts. Default: 30.')
param quietPeriodSeconds int = 30

@description('Optional. Maximum Flex Consumption instances (bounds the match fan-out). Default: 40.')
param maximumInstanceCount int = 40

@description('Optional. Memory per Flex Consumption instance in MB. The largest activity needs 1.6 GB up to 10 M records (bench/README.md), so 2048 fits; 4096 brings two cores instead of one. Default: 4096.')
@allowed([2048, 4096])
param instanceMemoryMB int = 4096

@description('Optional. Tags for every resource.')
param tags object = {}

var token = toLower(name)
var suffix = uniqueString(resourceGroup().id, token)

module monitoring 'modules/monitoring.bicep' = {
  name: '${token}-monitoring'
  params: {
    name: token
    location: location
    tags: tags
  }
}

module lake 'modules/lake.bicep' = {
  name: '${token}-lake'
  params: {
    accountName: take('st${token}lake${suffix}', 24)
    location: location
    lakeContainer: lakeContainer
    tags: tags
  }
}

module runtimeStorage 'modules/runtime-storage.bicep' = {
  name: '${token}-runtime'
  params: {
    accountName: take('st${token}fn${suffix}', 24)
    location: location
    tags: tags
  }
}

module identity 'modules/identity.bicep' = {
  name: '${token}-identity'
  params: {
    identityName: 'id-${token}-func'
    location: location
    tags: tags
  }
}

module synapse 'modules/synapse.bicep' = {
  name: '${token}-synapse'
  params: {
    workspaceName: 'syn-${token}-${take(suffix, 6)}'
    location: location
    lakeAccountName: lake.outputs.accountName
    adminObjectId: synapseAdminObjectId
    tags: tags
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: '${token}-function'
  params: {
    appName: 'func-${token}-${take(suffix, 6)}'
    location: location
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    runtimeAccountName: runtimeStorage.outputs.accountName
    deploymentContainer: runtimeStorage.outputs.deploymentContainer
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    c360Settings: {
      C360_LAKE_KIND: 'adls'
      C360_LAKE_ACCOUNT_URL: lake.outputs.blobEndpoint
      C360_LAKE_CONTAINER: lakeContainer
      C360_IDENTITY_CLIENT_ID: identity.outputs.clientId
      C360_SQL_KIND: 'synapse'
      C360_SYNAPSE_SERVER: synapse.outputs.serverlessEndpoint
      C360_SYNAPSE_DATABASE: sqlDatabase
      C360_SQL_SCHEMA: sqlSchema
      C360_SQL_READER_ROLE: 'c360_readers'
      C360_LANDING_PREFIX: landingPrefix
      C360_CONFIG_PATH: 'config/c360.yaml'
      C360_QUIET_PERIOD_SECONDS: string(quietPeriodSeconds)
      C360_ACTIVITY_RETRY_ATTEMPTS: '3'
      C360_ACTIVITY_RETRY_INTERVAL_MS: '5000'
      C360_MATCH_PARTITION_RECORDS: '250000'
      C360_MATCH_SLICE_RECORDS: '2500000'
      C360_MERGE_SHARD_CUSTOMERS: '250000'
      C360_RUNS_TO_KEEP: '5'
    }
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: '${token}-roles'
  params: {
    functionPrincipalId: identity.outputs.principalId
    synapsePrincipalId: synapse.outputs.principalId
    eventGridPrincipalId: events.outputs.systemTopicPrincipalId
    lakeAccountName: lake.outputs.accountName
    runtimeAccountName: runtimeStorage.outputs.accountName
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module events 'modules/events.bicep' = {
  name: '${token}-events'
  params: {
    topicName: 'evgt-${token}-lake'
    location: location
    lakeAccountName: lake.outputs.accountName
    lakeContainer: lakeContainer
    landingPrefix: landingPrefix
    enableSubscription: enableEventSubscription
    functionAppName: functionApp.outputs.name
    deadLetterAccountName: runtimeStorage.outputs.accountName
    deadLetterContainer: runtimeStorage.outputs.deadLetterContainer
    tags: tags
  }
}

@description('The Function App\'s name (for the post-deploy script).')
output functionAppName string = functionApp.outputs.name

@description('The Function App\'s host name; the run API is https://<host>/api/runs.')
output functionAppHostName string = functionApp.outputs.defaultHostName

@description('The lake account\'s name.')
output lakeAccountName string = lake.outputs.accountName

@description('The lake\'s DFS endpoint (what CDM consumers and Synapse read).')
output lakeDfsEndpoint string = lake.outputs.dfsEndpoint

@description('The Synapse serverless SQL endpoint (Power BI connects here).')
output sqlEndpoint string = synapse.outputs.serverlessEndpoint

@description('The SQL database of the logical data warehouse.')
output sqlDatabase string = sqlDatabase

@description('Name of the function\'s user-assigned identity (the post-deploy script creates its SQL user).')
output functionIdentityName string = identity.outputs.name

@description('The lake container (file system).')
output lakeContainer string = lakeContainer

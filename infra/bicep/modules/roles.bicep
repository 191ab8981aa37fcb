// Every role assignment of the deployment, in one place. Role definition ids are Azure built-in roles.

@description('Required. Principal id of the function identity.')
param functionPrincipalId string

@description('Required. Principal id of the Synapse workspace identity.')
param synapsePrincipalId string

@description('Required. Principal id of the Event Grid system topic identity.')
param eventGridPrincipalId string

@description('Required. Lake account name.')
param lakeAccountName string

@description('Required. Runtime storage account name.')
param runtimeAccountName string

@description('Required. Application Insights name.')
param appInsightsName string

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageBlobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: lakeAccountName
}

resource runtime 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: runtimeAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var onLake = [
  {
    principal: functionPrincipalId
    role: storageBlobDataContributor
  }
  {
    principal: synapsePrincipalId
    role: storageBlobDataReader
  }
]

var onRuntime = [
  {
    principal: functionPrincipalId
    role: storageBlobDataOwner
  }
  {
    principal: functionPrincipalId
    role: storageQueueDataContributor
  }
  {
    principal: functionPrincipalId
    role: storageTableDataContributor
  }
  {
    principal: eventGridPrincipalId
    role: storageBlobDataContributor
  }
]

resource lakeRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for item in onLake: {
  name: guid(lake.id, item.principal, item.role)
  scope: lake
  properties: {
    principalId: item.principal
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', item.role)
  }
}]

resource runtimeRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for item in onRuntime: {
  name: guid(runtime.id, item.principal, item.role)
  scope: runtime
  properties: {
    principalId: item.principal
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', item.role)
  }
}]

resource telemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionPrincipalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

@description('Number of role assignments made.')
output assignments int = length(onLake) + length(onRuntime) + 1

// A Synapse workspace used for its serverless SQL endpoint only (no dedicated pools, no Spark): the
// views of the logical data warehouse read the lake's Parquet with the workspace's managed identity.
// Entra ID only: no SQL administrator password exists.

@description('Required. Workspace name.')
param workspaceName string

@description('Required. Region.')
param location string

@description('Required. Lake account; its "synapse" file system holds workspace metadata.')
param lakeAccountName string

@description('Required. Object id of the Entra ID user or group administering the workspace.')
param adminObjectId string

@description('Optional. Tags.')
param tags object = {}

resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: lakeAccountName
}

resource workspace 'Microsoft.Synapse/workspaces@2021-06-01' = {
  name: workspaceName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    defaultDataLakeStorage: {
      accountUrl: lake.properties.primaryEndpoints.dfs
      filesystem: 'synapse'
      resourceId: lake.id
      createManagedPrivateEndpoint: false
    }
    azureADOnlyAuthentication: true
    cspWorkspaceAdminProperties: {
      initialWorkspaceAdminObjectId: adminObjectId
    }
    publicNetworkAccess: 'Enabled'
  }
}

resource allowAzure 'Microsoft.Synapse/workspaces/firewallRules@2021-06-01' = {
  parent: workspace
  name: 'AllowAllWindowsAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource entraOnly 'Microsoft.Synapse/workspaces/azureADOnlyAuthentications@2021-06-01' = {
  parent: workspace
  name: 'default'
  properties: {
    azureADOnlyAuthentication: true
  }
}

@description('Workspace name.')
output name string = workspace.name

@description('Serverless SQL endpoint host name.')
output serverlessEndpoint string = workspace.properties.connectivityEndpoints.sqlOnDemand

@description('Principal id of the workspace identity (reads the lake).')
output principalId string = workspace.identity.principalId

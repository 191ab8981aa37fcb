// The data lake: StorageV2 with hierarchical namespace (ADLS Gen2), shared keys off, TLS 1.2, no public blobs.

@description('Required. Storage account name (3-24 lower-case letters and digits).')
@minLength(3)
@maxLength(24)
param accountName string

@description('Required. Region.')
param location string

@description('Required. Container (file system) that holds landing/, cdm/, system/, curated/ and quarantine/.')
param lakeContainer string

@description('Optional. Tags.')
param tags object = {}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_ZRS'
  }
  properties: {
    isHnsEnabled: true
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    accessTier: 'Hot'
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource lake 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: lakeContainer
  properties: {
    publicAccess: 'None'
  }
}

resource synapseFileSystem 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'synapse'
  properties: {
    publicAccess: 'None'
  }
}

@description('Lake account name.')
output accountName string = account.name

@description('Lake account resource id.')
output accountId string = account.id

@description('Blob endpoint (the function reads and writes through it).')
output blobEndpoint string = account.properties.primaryEndpoints.blob

@description('DFS endpoint (CDM consumers and Synapse read through it).')
output dfsEndpoint string = account.properties.primaryEndpoints.dfs

@description('File system Synapse uses as its default (workspace metadata only).')
output synapseFileSystem string = synapseFileSystem.name

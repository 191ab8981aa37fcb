// Runtime storage for the Functions host and the Durable task hub (blobs, queues, tables) plus the Flex
// Consumption deployment package and Event Grid dead letters. Kept apart from the lake.

@description('Required. Storage account name (3-24 lower-case letters and digits).')
@minLength(3)
@maxLength(24)
param accountName string

@description('Required. Region.')
param location string

@description('Optional. Tags.')
param tags object = {}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'app-package'
}

resource deadLetters 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'eventgrid-deadletter'
}

@description('Runtime account name.')
output accountName string = account.name

@description('Blob endpoint of the runtime account.')
output blobEndpoint string = account.properties.primaryEndpoints.blob

@description('Queue endpoint of the runtime account.')
output queueEndpoint string = account.properties.primaryEndpoints.queue

@description('Table endpoint of the runtime account.')
output tableEndpoint string = account.properties.primaryEndpoints.table

@description('Container holding the deployment package.')
output deploymentContainer string = deployment.name

@description('Container receiving undeliverable Event Grid events.')
output deadLetterContainer string = deadLetters.name

// The function's user-assigned managed identity: it reaches the lake, the runtime storage, Application
// Insights and Synapse; nothing else holds credentials.

@description('Required. Identity name.')
param identityName string

@description('Required. Region.')
param location string

@description('Optional. Tags.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

@description('Identity resource id.')
output id string = identity.id

@description('Identity name (the SQL user is created with this name).')
output name string = identity.name

@description('Client id (C360_IDENTITY_CLIENT_ID and AzureWebJobsStorage__clientId).')
output clientId string = identity.properties.clientId

@description('Principal (object) id, for role assignments.')
output principalId string = identity.properties.principalId

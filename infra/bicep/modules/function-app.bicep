// The Function App on Flex Consumption (Python 3.11) with a user-assigned identity. The runtime storage
// is reached with identity-based settings (service URIs + __credential + __clientId), never a key.

@description('Required. Function App name.')
param appName string

@description('Required. Region.')
param location string

@description('Required. Resource id of the user-assigned identity.')
param identityId string

@description('Required. Client id of the user-assigned identity.')
param identityClientId string

@description('Required. Runtime storage account (host, Durable task hub, deployment package).')
param runtimeAccountName string

@description('Required. Container of the runtime account holding the deployment package.')
param deploymentContainer string

@description('Required. Application Insights connection string.')
param appInsightsConnectionString string

@description('Required. The C360_ settings the code reads (tests check this list against shared/settings.py).')
param c360Settings object

@description('Optional. Maximum instances. Default: 40.')
param maximumInstanceCount int = 40

@description('Optional. Memory per instance in MB. Default: 4096.')
param instanceMemoryMB int = 4096

@description('Optional. Tags.')
param tags object = {}

resource runtimeAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: runtimeAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${appName}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

var hostSettings = {
  AzureWebJobsStorage__blobServiceUri: runtimeAccount.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: runtimeAccount.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: runtimeAccount.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  OPENBLAS_NUM_THREADS: '1'
  OMP_NUM_THREADS: '1'
  // one activity at a time per instance, so an instance's memory is one activity's peak (bench/README.md:
  // 2.0 GB for the merge at a million customers); parallelism comes from scaling out
  AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions: '1'
  PYTHON_THREADPOOL_THREAD_COUNT: '1'
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${runtimeAccount.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: union(hostSettings, c360Settings)
}

@description('Function App name.')
output name string = app.name

@description('Function App resource id.')
output id string = app.id

@description('Default host name.')
output defaultHostName string = app.properties.defaultHostName

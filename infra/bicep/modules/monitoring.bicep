// Log Analytics and workspace-based Application Insights (local authentication off: the function writes
// telemetry with its managed identity).

@description('Required. Name token of the deployment.')
param name string

@description('Required. Region.')
param location string

@description('Optional. Tags.')
param tags object = {}

@description('Optional. Days logs are kept. Default: 30.')
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

@description('Application Insights connection string (an endpoint and resource id, not a secret: local auth is off).')
output appInsightsConnectionString string = appInsights.properties.ConnectionString

@description('Application Insights resource name.')
output appInsightsName string = appInsights.name

@description('Log Analytics workspace resource id.')
output workspaceId string = workspace.id

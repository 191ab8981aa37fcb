// Event Grid: a system topic on the lake account and, once the function code is deployed, a subscription
// delivering BlobCreated events under the landing prefix to on_source_file_landed, with retries and
// dead-lettering to the runtime account (through the topic's own identity).

@description('Required. System topic name.')
param topicName string

@description('Required. Region.')
param location string

@description('Required. Lake account whose blob events are published.')
param lakeAccountName string

@description('Required. Lake container.')
param lakeContainer string

@description('Required. Landing prefix inside the lake container.')
param landingPrefix string

@description('Required. Create the subscription (the function must already exist, so the first deployment leaves it off).')
param enableSubscription bool

@description('Required. Function App receiving the events.')
param functionAppName string

@description('Required. Account receiving dead-lettered events.')
param deadLetterAccountName string

@description('Required. Container receiving dead-lettered events.')
param deadLetterContainer string

@description('Optional. Delivery attempts before an event is dead-lettered. Default: 30.')
param maxDeliveryAttempts int = 30

@description('Optional. Minutes an event is retried before it is dead-lettered. Default: 1440.')
param eventTimeToLiveInMinutes int = 1440

@description('Optional. Tags.')
param tags object = {}

resource lake 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: lakeAccountName
}

resource deadLetterAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: deadLetterAccountName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: topicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: lake.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = if (enableSubscription) {
  parent: topic
  name: 'c360-landed-files'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionApp.id}/functions/on_source_file_landed'
        maxEventsPerBatch: 10
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${lakeContainer}/blobs/${landingPrefix}/'
      enableAdvancedFilteringOnArrays: true
      advancedFilters: [
        {
          operatorType: 'NumberGreaterThan'
          key: 'data.contentLength'
          value: 0
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterAccount.id
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
}

@description('System topic name.')
output topicName string = topic.name

@description('Principal id of the system topic identity (writes dead letters).')
output systemTopicPrincipalId string = topic.identity.principalId

// certsync's identity gets one of its custom roles on a whole subscription.
targetScope = 'subscription'

@description('The certsync App Service operator role.')
param roleId string

@description('certsync\'s managed identity.')
param principalId string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

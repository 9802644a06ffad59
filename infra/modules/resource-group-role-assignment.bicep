// certsync's identity gets one of its custom roles on a resource group.
targetScope = 'resourceGroup'

@description('The certsync custom role (App Service operator or DNS-01 TXT writer).')
param roleId string

@description('certsync\'s managed identity.')
param principalId string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// A custom role holding exactly the ARM actions certsync performs at its managed scopes.
targetScope = 'subscription'

@description('Name (GUID) of the custom role.')
param roleId string

@description('Display name of the custom role.')
param roleName string

@description('What the role allows.')
param roleDescription string

@description('The ARM actions certsync performs.')
param actions array

@description('Where the role may be assigned.')
param scopes array

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: roleId
  properties: {
    roleName: roleName
    description: roleDescription
    type: 'customRole'
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: scopes
  }
}

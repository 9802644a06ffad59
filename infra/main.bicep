// certsync on Azure Functions (Flex Consumption), reached through its managed identity only.
// The same resources, settings and roles as azuredeploy.json, which is the artifact the tests check
// and the "Deploy to Azure" button uses (no Bicep compiler runs in this project's CI).
// Deploy: az deployment group create -g <resource group> -f infra/main.bicep [-p appServiceScopes=...]

@description('Name of the function app (global: <appName>.azurewebsites.net). The storage account, vault, plan and monitoring resources are named after it.')
@minLength(2)
@maxLength(40)
param appName string = 'certsync-${uniqueString(resourceGroup().id)}'

@description('Region of every resource; it must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('Python version of the function app (certsync is tested on both).')
@allowed(['3.11', '3.12'])
param pythonVersion string = '3.11'

@description('Most instances the Flex Consumption plan scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('CERTSYNC_TABLE_PREFIX: prefix of the state tables (letters and digits, starting with a letter).')
param tablePrefix string = 'certsync'

@description('OPERATIONS_QUEUE: Storage queue of background operations (the queue trigger resolves it as %OPERATIONS_QUEUE%).')
param operationsQueue string = 'certsync-operations'

@description('AUTO_RENEW_SCHEDULE: NCRONTAB schedule of the auto_renew timer (six fields, UTC).')
param autoRenewSchedule string = '0 0 */8 * * *'

@description('AUTO_RENEW_JITTER_SECONDS: each due renewal waits a random 0..N seconds.')
@minValue(0)
@maxValue(600)
param autoRenewJitterSeconds int = 300

@description('SYNC_SWEEP_SCHEDULE: NCRONTAB schedule of the sync_sweep timer.')
param syncSweepSchedule string = '0 */15 * * * *'

@description('SYNC_SWEEP_INTERVAL_HOURS: longest time between two full verifications of one link.')
@minValue(1)
@maxValue(720)
param syncSweepIntervalHours int = 48

@description('AUTO_SYNC_AFTER_RENEWAL: sync every link of a certificate right after it is renewed or rekeyed.')
param autoSyncAfterRenewal bool = true

@description('LOCAL_CA_VALIDITY_DAYS: default lifetime of local-CA certificates.')
@minValue(1)
@maxValue(397)
param localCaValidityDays int = 365

@description('ACME_DIRECTORY_URL: ACME directory (for example https://acme-v02.api.letsencrypt.org/directory); empty leaves only the local CA.')
param acmeDirectoryUrl string = ''

@description('ACME_CONTACT: contact e-mail for the ACME account.')
param acmeContact string = ''

@description('ACME_PROFILE: ACME profile of certificates that name none, e.g. shortlived (empty: the CA default).')
param acmeProfile string = ''

@description('ACME_EAB_KID: External Account Binding key id (ZeroSSL, Google). When set, store the HMAC key as the secret \'acme-eab-hmac-key\' in the vault; the app reads it through a Key Vault reference.')
param acmeEabKid string = ''

@description('AZURE_DNS_SUBSCRIPTION_ID: subscription of the Azure DNS zones answered for ACME DNS-01. With azureDnsResourceGroup, certsync gets a TXT-only role there.')
param azureDnsSubscriptionId string = ''

@description('AZURE_DNS_RESOURCE_GROUP: resource group of those zones (it must exist).')
param azureDnsResourceGroup string = ''

@description('AZURE_DNS_ZONE_SCOPES: more places with DNS zones, \'sub1/rg-a,sub2\' (resource groups or whole subscriptions). Give certsync the DNS-01 TXT writer role there yourself.')
param azureDnsZoneScopes string = ''

@description('KEY_VAULT_URLS: more vaults certificates may be kept in, comma-separated https URLs (the template\'s own vault stays the default). Grant the app Key Vault Secrets Officer and Microsoft Azure App Service Key Vault Certificate User on each yourself.')
param additionalKeyVaultUrls string = ''

@description('KEY_VAULT_RESOURCE_IDS: the ARM ids of additionalKeyVaultUrls, in the same order (needed with appServiceScopes).')
param additionalKeyVaultResourceIds string = ''

@description('Scopes whose App Service apps certsync manages, as ARM ids: \'/subscriptions/<id>\' or \'/subscriptions/<id>/resourceGroups/<name>\'. certsync\'s identity gets the \'certsync App Service operator\' role (exactly the actions it uses) on each.')
param appServiceScopes array = []

@description('WEBHOOK_URL: when true, store the webhook URLs (comma-separated, optionally format+url: json, slack, teams, cloudevents) as the secret \'webhook-urls\' in the vault; the app reads them through a Key Vault reference, since Slack and Teams URLs carry secrets.')
param webhooksEnabled bool = false

@description('WEBHOOK_EXPIRY_DAYS: notify when a certificate expires within this many days without a successful renewal.')
@minValue(1)
@maxValue(396)
param webhookExpiryDays int = 14

@description('WEBHOOK_OUT_OF_SYNC_MINUTES: notify when a link has been out of sync this long.')
@minValue(1)
@maxValue(43200)
param webhookOutOfSyncMinutes int = 60

@description('WEBHOOK_CUTOFF_HOURS: a webhook delivery is retried with backoff for this long, then marked failed.')
@minValue(1)
@maxValue(168)
param webhookCutoffHours int = 24

@description('OPERATION_RETENTION_DAYS: finished operations and webhook deliveries older than this are deleted (a certificate keeps its newest operation).')
@minValue(1)
@maxValue(3650)
param operationRetentionDays int = 30

@description('Object id of the \'Microsoft Azure App Service\' service principal in your tenant (az ad sp show --id abfa0a7c-a6b6-4736-8310-5855508787cd --query id -o tsv). It gets Key Vault Certificate User on the vault (the role Microsoft documents for App Service importing from Key Vault) so App Service can import certificates from it; leave empty to grant it yourself.')
param appServicePrincipalObjectId string = ''

@description('Put App Service Authentication (Microsoft Entra ID) in front of the app and set REQUIRE_ROLES=true: reads need the app role Certificates.Read, changes Certificates.Write, export Certificates.Export.')
param enableAuthentication bool = false

@description('With enableAuthentication: client id of the Entra app registration that defines the app roles Certificates.Read, Certificates.Write and Certificates.Export.')
param authClientId string = ''

var suffix = uniqueString(resourceGroup().id, appName)
var storageName = take('certsync${suffix}', 24)
var vaultName = take('certsync-${suffix}', 24)
var packageContainer = 'app-package'
var eabSecretName = 'acme-eab-hmac-key'
var webhookSecretName = 'webhook-urls'
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  keyVaultCertificateUser: 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}
// The ARM actions certsync performs (shared/azure_rbac.py is the list; tests/infra compares).
var appServiceActions = [
  'Microsoft.Web/certificates/read'
  'Microsoft.Web/certificates/write'
  'Microsoft.Web/sites/read'
  'Microsoft.Web/sites/slots/read'
  'Microsoft.Web/sites/hostNameBindings/read'
  'Microsoft.Web/sites/hostNameBindings/write'
  'Microsoft.Web/sites/slots/hostNameBindings/read'
  'Microsoft.Web/sites/slots/hostNameBindings/write'
  'Microsoft.Web/serverfarms/read'
]
var dnsActions = [
  'Microsoft.Network/dnsZones/read'
  'Microsoft.Network/dnsZones/TXT/read'
  'Microsoft.Network/dnsZones/TXT/write'
  'Microsoft.Network/dnsZones/TXT/delete'
]
var dnsEnabled = !empty(azureDnsSubscriptionId) && !empty(azureDnsResourceGroup)
var dnsScopes = dnsEnabled ? ['/subscriptions/${azureDnsSubscriptionId}/resourceGroups/${azureDnsResourceGroup}'] : []
var operatorRoles = [
  {
    key: 'appService'
    roleName: 'certsync App Service operator (${appName})'
    description: 'What certsync does to App Service: re-import linked certificates from Key Vault and move hostname bindings (sites and slots).'
    actions: appServiceActions
    scopes: appServiceScopes
  }
  {
    key: 'dns'
    roleName: 'certsync DNS-01 TXT writer (${appName})'
    description: 'What certsync does to Azure DNS: list zones and write or remove _acme-challenge TXT record sets.'
    actions: dnsActions
    scopes: dnsScopes
  }
]
var anonymousPaths = ['/api/health', '/api/openapi.json', '/api/ca/root.pem', '/api/ca/crl']

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${appName}-logs'
  location: location
  properties: {
    retentionInDays: 30
    sku: { name: 'PerGB2018' }
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${appName}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource packageBlobContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  name: '${storage.name}/default/${packageContainer}'
  properties: { publicAccess: 'None' }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${appName}-plan'
  location: location
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  dependsOn: [packageBlobContainer]
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${packageContainer}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'python', version: pythonVersion }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: [
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
        { name: 'AzureWebJobsStorage__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
        { name: 'AzureWebJobsStorage__tableServiceUri', value: storage.properties.primaryEndpoints.table }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }
        { name: 'KEY_VAULT_URL', value: vault.properties.vaultUri }
        { name: 'CERTSYNC_TABLE_PREFIX', value: tablePrefix }
        { name: 'OPERATIONS_QUEUE', value: operationsQueue }
        { name: 'AUTO_RENEW_SCHEDULE', value: autoRenewSchedule }
        { name: 'AUTO_RENEW_JITTER_SECONDS', value: string(autoRenewJitterSeconds) }
        { name: 'SYNC_SWEEP_SCHEDULE', value: syncSweepSchedule }
        { name: 'SYNC_SWEEP_INTERVAL_HOURS', value: string(syncSweepIntervalHours) }
        { name: 'AUTO_SYNC_AFTER_RENEWAL', value: toLower(string(autoSyncAfterRenewal)) }
        { name: 'LOCAL_CA_VALIDITY_DAYS', value: string(localCaValidityDays) }
        { name: 'REQUIRE_ROLES', value: toLower(string(enableAuthentication)) }
        { name: 'ACME_DIRECTORY_URL', value: acmeDirectoryUrl }
        { name: 'ACME_CONTACT', value: acmeContact }
        { name: 'ACME_PROFILE', value: acmeProfile }
        { name: 'ACME_EAB_KID', value: acmeEabKid }
        { name: 'ACME_EAB_HMAC_KEY', value: empty(acmeEabKid) ? '' : '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${eabSecretName})' }
        { name: 'DNS_PROVIDER', value: 'azure' }
        { name: 'AZURE_DNS_SUBSCRIPTION_ID', value: azureDnsSubscriptionId }
        { name: 'AZURE_DNS_RESOURCE_GROUP', value: azureDnsResourceGroup }
        { name: 'AZURE_DNS_ZONE_SCOPES', value: azureDnsZoneScopes }
        { name: 'APP_SERVICE_SUBSCRIPTIONS', value: replace(replace(join(appServiceScopes, ','), '/subscriptions/', ''), '/resourceGroups/', '/') }
        { name: 'ARM_ENDPOINT', value: environment().resourceManager }
        { name: 'KEY_VAULT_RESOURCE_ID', value: vault.id }
        { name: 'KEY_VAULT_URLS', value: additionalKeyVaultUrls }
        { name: 'KEY_VAULT_RESOURCE_IDS', value: additionalKeyVaultResourceIds }
        { name: 'WEBHOOK_URL', value: webhooksEnabled ? '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${webhookSecretName})' : '' }
        { name: 'WEBHOOK_EXPIRY_DAYS', value: string(webhookExpiryDays) }
        { name: 'WEBHOOK_OUT_OF_SYNC_MINUTES', value: string(webhookOutOfSyncMinutes) }
        { name: 'WEBHOOK_CUTOFF_HOURS', value: string(webhookCutoffHours) }
        { name: 'OPERATION_RETENTION_DAYS', value: string(operationRetentionDays) }
      ]
    }
  }
}

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, app.id, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource appServiceCertificateUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(appServicePrincipalObjectId)) {
  name: guid(vault.id, appServicePrincipalObjectId, roles.keyVaultCertificateUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCertificateUser)
    principalId: appServicePrincipalObjectId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, app.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Custom roles live at the subscription: a small inline module per role (azuredeploy.json nests them the same way).
module operatorRoleDefinitions 'modules/role-definition.bicep' = [for role in operatorRoles: if (!empty(role.scopes)) {
  name: 'certsync-role-${role.key}'
  scope: subscription()
  params: {
    roleId: guid(resourceGroup().id, appName, role.key)
    roleName: role.roleName
    roleDescription: role.description
    actions: role.actions
    scopes: role.scopes
  }
}]

module appServiceSubscriptionAssignments 'modules/subscription-role-assignment.bicep' = [for (scope, i) in appServiceScopes: if (length(split(scope, '/')) == 3) {
  name: 'certsync-appservice-sub-${i}'
  scope: subscription(split(scope, '/')[2])
  dependsOn: [operatorRoleDefinitions]
  params: {
    roleId: guid(resourceGroup().id, appName, 'appService')
    principalId: app.identity.principalId
  }
}]

module appServiceResourceGroupAssignments 'modules/resource-group-role-assignment.bicep' = [for (scope, i) in appServiceScopes: if (length(split(scope, '/')) == 5) {
  name: 'certsync-appservice-rg-${i}'
  scope: resourceGroup(split(scope, '/')[2], last(split(scope, '/')))
  dependsOn: [operatorRoleDefinitions]
  params: {
    roleId: guid(resourceGroup().id, appName, 'appService')
    principalId: app.identity.principalId
  }
}]

module dnsAssignment 'modules/resource-group-role-assignment.bicep' = if (dnsEnabled) {
  name: 'certsync-dns-assignment'
  scope: resourceGroup(dnsEnabled ? azureDnsSubscriptionId : subscription().subscriptionId, dnsEnabled ? azureDnsResourceGroup : resourceGroup().name)
  dependsOn: [operatorRoleDefinitions]
  params: {
    roleId: guid(resourceGroup().id, appName, 'dns')
    principalId: app.identity.principalId
  }
}

resource authentication 'Microsoft.Web/sites/config@2024-04-01' = if (enableAuthentication) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: anonymousPaths
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${subscription().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: ['api://${authClientId}', authClientId]
        }
      }
    }
    login: { tokenStore: { enabled: false } }
  }
}

output functionAppName string = app.name
output healthUrl string = 'https://${app.properties.defaultHostName}/api/health'
output dashboardUrl string = 'https://${app.properties.defaultHostName}/api/dashboard?code=<function key>'
output keyVaultUrl string = vault.properties.vaultUri
output storageAccountName string = storage.name
output principalId string = app.identity.principalId

"""The App Service connector (issue #12): linked certificates and SSL bindings as Azure Resource
Manager holds them. `resources` is the vocabulary (pure), `client` the azure-mgmt-web adapter,
`sync` the use cases. Import the module you need; this package imports nothing.
"""

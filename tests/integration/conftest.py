"""Integration ring: shared/ use cases against real Azurite and the real Key Vault emulator,
without the HTTP host. The `ctx` fixture (tests/conftest.py) gives each test its own tables
and queue."""

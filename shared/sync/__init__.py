"""Sync: bring linked certificates to their secret's current version, then every SSL binding
that uses them to their link's thumbprint.

`planner` decides (pure), `executor` writes (ETags, batches with a one-by-one fallback),
`handlers` starts and runs sync operations. Import the module you need; this package imports
nothing, so no module of it can form a cycle through it.
"""

"""certsync domain and adapters. Nothing here imports azure.functions."""

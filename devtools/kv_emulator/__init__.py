"""Local Azure Key Vault emulator (Secrets API) that the official SecretClient talks to unchanged.

Start it with `start_emulator()` (tests) or `python -m devtools.kv_emulator` (local stack);
point SecretClient at `.url` with `verify_challenge_resource=False` and
`connection_verify=str(.cert_path)`. See README.md beside this file.
"""

from devtools.kv_emulator.server import EmulatorHandle, start_emulator

__all__ = ["EmulatorHandle", "start_emulator"]

"""Local Azure Resource Manager emulator (resource groups, Microsoft.Web) with a TLS front.

Start it with `start_emulator()` (tests) or `python -m devtools.arm_emulator` (local stack);
point the official azure-mgmt-* clients at `.url` with `connection_verify=str(.cert_path)`.
See README.md beside this file.
"""

from devtools.arm_emulator.server import EmulatorHandle, start_emulator

__all__ = ["EmulatorHandle", "start_emulator"]

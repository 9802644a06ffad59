"""In-memory App Service (shared.ports.AppService): certificate resources imported from a fake
vault and hostname bindings of sites and slots, with the rules and errors of the adapter on the
ARM emulator (tests/contract/test_app_service_port.py holds both to the same assertions).

Like the emulator, a re-import moves the bindings of the webspace (here: the resource group)
that used the old thumbprint. `failures` scripts ARM answers (429, 5xx, 403) per method.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from shared import pki
from shared.appservice.resources import SUCCEEDED, ArmApp, ArmBinding, ArmCertificate
from shared.clock import utcnow
from shared.errors import BadRequest, CertsyncError, NotFound
from shared.hostnames import covers
from shared.ports import SecretStore
from shared.secret_refs import current_certificate

UNAUTHORIZED = "AzureServiceUnauthorizedToAccessKeyVault"


class FakeAppService:
    def __init__(self, vault: SecretStore, vault_id: str) -> None:
        self.vaults: dict[str, SecretStore] = {vault_id.lower(): vault}  # by ARM id: what keyVaultId can name
        self.certificates: dict[str, ArmCertificate] = {}  # by lowercased resource id
        self.sites: dict[tuple[str, str, str, str], ArmApp] = {}  # (subscription, group, site, slot)
        self.bindings: dict[tuple[str, str, str, str, str], ArmBinding] = {}
        self.vault_access = True
        self.moves_bindings_on_import = True  # what the emulator guesses App Service does
        self.failures: dict[str, list[CertsyncError]] = {}  # method name -> errors to raise, in order
        self.calls: Counter[str] = Counter()

    # --- scripting (not part of the port) ---

    def add_vault(self, vault_id: str, vault: SecretStore) -> None:
        """Another vault ARM knows (certsync's KEY_VAULT_RESOURCE_IDS)."""
        self.vaults[vault_id.lower()] = vault

    def add_site(self, subscription: str, group: str, site: str, slot: str = "", plan: str = "plan") -> None:
        self.sites[(subscription, group, site, slot)] = ArmApp(subscription, group, site, slot, "westeurope", plan)

    def delete_certificate(self, cert: ArmCertificate) -> None:
        """What a user does in the portal (ARM refuses while an SSL binding uses it; deleting the
        resource group does not ask): the fake does not check, a test removes what it must."""
        del self.certificates[cert.id.lower()]

    def delete_app(self, subscription: str, group: str, site: str, slot: str = "") -> None:
        """A site (with its slots) or one slot, with its hostname bindings."""
        for key in [k for k in self.sites if k[:3] == (subscription, group, site) and (not slot or k[3] == slot)]:
            del self.sites[key]
        for key in [k for k in self.bindings if k[:3] == (subscription, group, site) and (not slot or k[3] == slot)]:
            del self.bindings[key]

    # --- the port ---

    def list_certificates(self, subscription: str) -> list[ArmCertificate]:
        self._call("list_certificates")
        return [_read(c) for c in self.certificates.values() if c.subscription == subscription]

    def get_certificate(self, subscription: str, resource_group: str, name: str) -> ArmCertificate:
        self._call("get_certificate")
        probe = ArmCertificate(subscription, resource_group, name, "", "", "")
        found = self.certificates.get(probe.id.lower())
        if found is None:
            raise NotFound(f"certificate {name} was not found", code="ResourceNotFound")
        return _read(found)

    def put_certificate(self, cert: ArmCertificate) -> ArmCertificate:
        self._call("put_certificate")
        existing = self.certificates.get(cert.id.lower())
        stored = replace(cert, thumbprint=existing.thumbprint if existing else "", secret_status="")
        stored = self._imported(stored)
        moved = existing and existing.thumbprint and stored.thumbprint != existing.thumbprint
        if moved and self.moves_bindings_on_import:
            for key, b in self.bindings.items():
                same_space = (b.subscription, b.resource_group) == (cert.subscription, cert.resource_group)
                if same_space and b.thumbprint == existing.thumbprint:
                    self.bindings[key] = replace(b, thumbprint=stored.thumbprint)
        self.certificates[cert.id.lower()] = stored
        return _read(stored)

    def get_app(self, subscription: str, resource_group: str, site: str, slot: str = "") -> ArmApp:
        self._call("get_app")
        found = self.sites.get((subscription, resource_group, site, slot))
        if found is None:
            raise NotFound(f"app {site} was not found in {resource_group}", code="ResourceNotFound")
        return found

    def list_bindings(self, subscription: str, resource_group: str) -> list[ArmBinding]:
        self._call("list_bindings")
        return [
            b
            for b in self.bindings.values()
            if (b.subscription, b.resource_group) == (subscription, resource_group) and b.thumbprint
        ]

    def get_binding(self, binding: ArmBinding) -> ArmBinding:
        self._call("get_binding")
        found = self.bindings.get(_key(binding))
        if found is None:
            raise NotFound(f"hostname {binding.hostname} is not bound on {binding.app}", code="ResourceNotFound")
        return found

    def put_binding(self, binding: ArmBinding) -> ArmBinding:
        self._call("put_binding")
        if (binding.subscription, binding.resource_group, binding.site, binding.slot) not in self.sites:
            raise NotFound(f"app {binding.app} was not found", code="ResourceNotFound")
        if binding.thumbprint:
            self._check_thumbprint(binding)
        self.bindings[_key(binding)] = binding
        return binding

    def close(self) -> None:
        return None

    def _call(self, method: str) -> None:
        self.calls[method] += 1
        queued = self.failures.get(method)
        if queued:
            raise queued.pop(0)

    def _imported(self, cert: ArmCertificate) -> ArmCertificate:
        vault = self.vaults.get(cert.key_vault_id.rstrip("/").lower())
        if vault is None:
            return replace(cert, secret_status="KeyVaultDoesNotExist")
        if not self.vault_access:
            return replace(cert, secret_status=UNAUTHORIZED)
        try:
            current = current_certificate(vault, cert.key_vault_secret_name)
        except NotFound:
            return replace(cert, secret_status="KeyVaultSecretDoesNotExist")
        except CertsyncError:
            return replace(cert, secret_status="UnknownError")
        bundle = current.bundle
        return replace(
            cert,
            thumbprint=current.thumbprint,
            expiration=bundle.not_after,
            host_names=tuple(pki.dns_names(bundle.certificate)),
            secret_status=SUCCEEDED,
        )

    def _check_thumbprint(self, binding: ArmBinding) -> None:
        owner = next(
            (
                c
                for c in self.certificates.values()
                if (c.subscription, c.resource_group) == (binding.subscription, binding.resource_group)
                and c.thumbprint == binding.thumbprint
            ),
            None,
        )
        if owner is None:
            raise BadRequest(
                f"certificate {binding.thumbprint} was not found in resource group {binding.resource_group}",
                code="BadRequest",
            )
        if not covers(owner.host_names, binding.hostname):
            raise BadRequest(f"certificate does not cover {binding.hostname}", code="BadRequest")


def _read(cert: ArmCertificate) -> ArmCertificate:
    """ARM's answer as the adapter gives it: stamped with when it was read."""
    return replace(cert, read_at=utcnow())


def _key(b: ArmBinding) -> tuple[str, str, str, str, str]:
    return (b.subscription, b.resource_group, b.site, b.slot, b.hostname)

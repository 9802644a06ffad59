"""The App Service adapter: azure-mgmt-web (its default api-version) against Azure Resource Manager.

One WebSiteManagementClient per subscription, so throttling (429 + Retry-After, which ARM
counts per subscription) slows that subscription alone; azure-core's retry policy waits the
Retry-After ARM gives. What still fails after the retries is mapped once to certsync errors:
403 names the missing RBAC action, 409/412 is a Conflict the caller may retry, 429 and 5xx are
DependencyErrors (the link keeps its error and the next sync or sweep tries again).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.identity import DefaultAzureCredential
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import (
    Certificate,
    CertificateProperties,
    HostNameBinding,
    HostNameBindingProperties,
    Site,
)

from shared.appservice.resources import ArmApp, ArmBinding, ArmCertificate, parse_resource_id
from shared.clock import utcnow
from shared.credentials import EmulatorCredential
from shared.dependencies import ARM, response_hook
from shared.errors import BadRequest, CertsyncError, Conflict, DependencyError, Forbidden, NotFound
from shared.settings import Settings

RETRIES = 4  # per request; azure-core honours Retry-After on 429 and 503
SSL_ON = ("SniEnabled", "IpBasedEnabled")


class AzureAppService:
    """Implements shared.ports.AppService."""

    def __init__(
        self, endpoint: str, credential: TokenCredential, *, verify: str | bool = True, retry_total: int = RETRIES
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.credential = credential
        self.verify = verify
        self.retry_total = retry_total
        self._clients: dict[str, WebSiteManagementClient] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureAppService:
        if settings.arm_is_local_emulator:
            verify: str | bool = str(settings.arm_emulator_cert) if settings.arm_emulator_cert else True
            return cls(settings.arm_endpoint, EmulatorCredential(), verify=verify)
        return cls(settings.arm_endpoint, DefaultAzureCredential())

    def client(self, subscription: str) -> WebSiteManagementClient:
        if subscription not in self._clients:
            self._clients[subscription] = WebSiteManagementClient(
                self.credential,
                subscription,
                base_url=self.endpoint,
                credential_scopes=[f"{self.endpoint}/.default"],
                connection_verify=self.verify,
                retry_total=self.retry_total,
                retry_backoff_factor=0.2,
                raw_response_hook=response_hook(ARM),
                retry_backoff_max=10,
            )
        return self._clients[subscription]

    def list_certificates(self, subscription: str) -> list[ArmCertificate]:
        """One paged list (nextLink followed by the SDK) of every certificate in the subscription."""
        with _arm_errors("Microsoft.Web/certificates/read", f"listing certificates of subscription {subscription}"):
            return [_certificate(c) for c in self.client(subscription).certificates.list()]

    def get_certificate(self, subscription: str, resource_group: str, name: str) -> ArmCertificate:
        with _arm_errors("Microsoft.Web/certificates/read", f"reading certificate {name} in {resource_group}"):
            return _certificate(self.client(subscription).certificates.get(resource_group, name))

    def put_certificate(self, cert: ArmCertificate) -> ArmCertificate:
        """Create, or import again (App Service then reads the secret's latest version)."""
        properties = CertificateProperties(
            key_vault_id=cert.key_vault_id,
            key_vault_secret_name=cert.key_vault_secret_name,
            server_farm_id=cert.server_farm_id or None,
        )
        envelope = Certificate(location=cert.location, properties=properties)
        with _arm_errors("Microsoft.Web/certificates/write", f"importing certificate {cert.id}"):
            put = self.client(cert.subscription).certificates.create_or_update(cert.resource_group, cert.name, envelope)
        return _certificate(put)

    def get_app(self, subscription: str, resource_group: str, site: str, slot: str = "") -> ArmApp:
        web = self.client(subscription)
        action = "Microsoft.Web/sites/slots/read" if slot else "Microsoft.Web/sites/read"
        with _arm_errors(action, f"reading app {site}{'/' + slot if slot else ''} in {resource_group}"):
            app = web.web_apps.get_slot(resource_group, site, slot) if slot else web.web_apps.get(resource_group, site)
        return ArmApp(subscription, resource_group, site, slot, app.location or "", app.server_farm_id or "")

    def list_bindings(self, subscription: str, resource_group: str) -> list[ArmBinding]:
        """SSL-enabled hostnames of every site and slot of a resource group (one list of sites,
        one list of slots per site)."""
        web = self.client(subscription)
        found: list[ArmBinding] = []
        with _arm_errors("Microsoft.Web/sites/read", f"listing apps of resource group {resource_group}"):
            sites = list(web.web_apps.list_by_resource_group(resource_group))
        for site in sites:
            found += _ssl_states(subscription, resource_group, site, "")
            with _arm_errors("Microsoft.Web/sites/slots/read", f"listing slots of app {site.name}"):
                slots = list(web.web_apps.list_slots(resource_group, site.name or ""))
            for slot in slots:
                found += _ssl_states(subscription, resource_group, slot, (slot.name or "").split("/")[-1])
        return found

    def get_binding(self, binding: ArmBinding) -> ArmBinding:
        web, group = self.client(binding.subscription), binding.resource_group
        action = (
            "Microsoft.Web/sites/slots/hostNameBindings/read"
            if binding.slot
            else "Microsoft.Web/sites/hostNameBindings/read"
        )
        with _arm_errors(action, f"reading the binding of {binding.hostname} on {binding.app}"):
            if binding.slot:
                got = web.web_apps.get_host_name_binding_slot(group, binding.site, binding.slot, binding.hostname)
            else:
                got = web.web_apps.get_host_name_binding(group, binding.site, binding.hostname)
        return _binding(binding, got)

    def put_binding(self, binding: ArmBinding) -> ArmBinding:
        web, group = self.client(binding.subscription), binding.resource_group
        body = HostNameBinding(
            properties=HostNameBindingProperties(ssl_state=binding.ssl_state, thumbprint=binding.thumbprint or None)
        )
        action = (
            "Microsoft.Web/sites/slots/hostNameBindings/write"
            if binding.slot
            else "Microsoft.Web/sites/hostNameBindings/write"
        )
        with _arm_errors(action, f"binding {binding.hostname} on {binding.app}"):
            if binding.slot:
                put = web.web_apps.create_or_update_host_name_binding_slot(
                    group, binding.site, binding.hostname, binding.slot, body
                )
            else:
                put = web.web_apps.create_or_update_host_name_binding(group, binding.site, binding.hostname, body)
        return _binding(binding, put)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def _text(value: Any) -> str:
    """The SDK gives enums (a str subclass whose str() is the member name) or plain strings."""
    if value is None:
        return ""
    return str(value.value) if isinstance(value, Enum) else str(value)


def _certificate(c: Any) -> ArmCertificate:
    where = parse_resource_id(c.id or "")
    return ArmCertificate(
        subscription=where.subscription,
        resource_group=where.resource_group,
        name=c.name or where.name,
        location=c.location or "",
        key_vault_id=c.key_vault_id or "",
        key_vault_secret_name=c.key_vault_secret_name or "",
        server_farm_id=c.server_farm_id or "",
        thumbprint=(c.thumbprint or "").upper(),
        expiration=c.expiration_date,
        host_names=tuple(c.host_names or ()),
        secret_status=_text(c.key_vault_secret_status),
        read_at=utcnow(),
    )


def _ssl_states(subscription: str, group: str, app: Site, slot: str) -> list[ArmBinding]:
    site = (app.name or "").split("/")[0]
    return [
        ArmBinding(
            subscription, group, site, (s.name or "").lower(), slot, _text(s.ssl_state), (s.thumbprint or "").upper()
        )
        for s in app.host_name_ssl_states or []
        if _text(s.ssl_state) in SSL_ON and s.thumbprint
    ]


def _binding(asked: ArmBinding, got: Any) -> ArmBinding:
    state = _text(got.ssl_state) or "Disabled"
    return ArmBinding(
        asked.subscription, asked.resource_group, asked.site, asked.hostname, asked.slot, state,
        (got.thumbprint or "").upper() if state in SSL_ON else "",
    )  # fmt: skip


@contextmanager
def _arm_errors(action: str, doing: str) -> Iterator[None]:
    """Map what the SDK raises after its retries to one certsync error per failure kind."""
    try:
        yield
    except AzureError as err:
        raise arm_error(err, action, doing) from err


def arm_error(err: AzureError, action: str, doing: str) -> CertsyncError:
    if not isinstance(err, HttpResponseError) or err.status_code is None:
        return DependencyError(f"Azure Resource Manager did not answer while {doing}", code="ArmUnavailable")
    status, code = err.status_code, _code(err)
    if status == 403:
        return Forbidden(
            f"certsync's identity may not perform {action} while {doing} ({code}); grant it the role in the README",
            code="AuthorizationFailed",
        )
    if status == 404:
        return NotFound(
            f"Azure Resource Manager found nothing while {doing} ({code}{_said(err)})", code=code or "ResourceNotFound"
        )
    if status in (409, 412):
        return Conflict(
            f"Azure Resource Manager reported a conflict while {doing} ({code}{_said(err)})", code="ArmConflict"
        )
    if status == 429:
        retry = _retry_after(err)
        return DependencyError(
            f"Azure Resource Manager throttled certsync while {doing}; retried later",
            code="ArmThrottled",
            retry_after=retry,
        )
    if status >= 500:
        return DependencyError(f"Azure Resource Manager failed ({status} {code}) while {doing}", code="ArmUnavailable")
    message = (err.error.message if err.error and err.error.message else "") or str(err.reason or "")
    return BadRequest(f"Azure Resource Manager refused {doing}: {code}: {message[:300]}", code=code or "ArmRefused")


def _said(err: HttpResponseError) -> str:
    """ARM's own reason ("Hostname ... already exists on another app"): the part that tells a user what to change."""
    message = err.error.message if err.error and err.error.message else ""
    return f": {message[:300]}" if message else ""


def _code(err: HttpResponseError) -> str:
    return str(err.error.code) if err.error and err.error.code else ""


def _retry_after(err: HttpResponseError) -> float | None:
    headers = getattr(err.response, "headers", None) or {}
    raw = headers.get("Retry-After")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None

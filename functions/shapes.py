"""JSON shapes of the API (camelCase), one function per resource."""
from __future__ import annotations

from shared.appservice.resources import app_resource_id
from shared.attention import Attention
from shared.clock import to_iso
from shared.conditions import Condition
from shared.model import Certificate, Delivery, LinkedCertificate, Operation, SslBinding
from shared.overview import BindingState, CertificateOverview, CertificateSummary, LinkState

iso = to_iso


def certificate(c: Certificate, vault: str) -> dict:
    """`vault`: the URL of the vault holding its secret (AppContext.vault_url_of)."""
    return {
        "name": c.name,
        "vault": vault,
        "hostnames": list(c.hostnames),
        "keyType": c.key_type,
        "issuer": c.issuer,
        "autoRenew": c.auto_renew,
        "reuseKey": c.reuse_key,
        "validityDays": c.validity_days,
        "status": c.status.value,
        "thumbprint": c.thumbprint or None,
        "sha256": c.sha256 or None,
        "serial": c.serial or None,
        "notBefore": iso(c.not_before),
        "notAfter": iso(c.not_after),
        "renewalDueAt": iso(c.renewal_due_at),
        "renewBeforeDays": c.renew_before_days,
        "profile": c.profile or None,
        "renewalWindow": {"start": iso(c.ari_window[0]), "end": iso(c.ari_window[1])} if c.ari_window else None,
        "failureCount": c.failure_count,
        "lastError": c.last_error or None,
        "activeOperation": c.active_operation or None,
        "keyVaultSecretName": c.secret_name,
        "keyVaultSecretVersion": c.secret_version or None,
        "createdAt": iso(c.created_at),
        "revokedVersions": [
            {"version": r.version, "thumbprint": r.thumbprint, "serial": r.serial, "reason": r.reason,
             "revokedAt": iso(r.revoked_at), "operation": r.operation or None}
            for r in c.revoked
        ],
    }


def conditions(items: list[Condition]) -> list[dict]:
    return [
        {
            "type": c.type.value,
            "status": c.status.value,
            "reason": c.reason.value,
            "message": c.message,
            "lastTransitionTime": iso(c.last_transition_time),
        }
        for c in items
    ]


def summary(s: CertificateSummary) -> dict:
    return {
        **certificate(s.certificate, s.vault),
        "linkCount": s.links,
        "outOfSyncLinks": s.out_of_sync_links,
        "conditions": conditions(s.conditions),
    }


def binding(b: SslBinding) -> dict:
    return {
        "app": b.app,
        "hostname": b.hostname,
        "link": b.link,
        "thumbprint": b.thumbprint,
        "sslState": b.ssl_state.value,
        "updatedAt": iso(b.updated_at),
        "slot": b.slot or None,
        "resourceGroup": b.resource_group or None,
    }


def link(item: LinkedCertificate) -> dict:
    return {
        "name": item.name,
        "scope": item.scope,
        "keyVaultSecretId": item.secret_id,
        "certificate": item.certificate or None,
        "thumbprint": item.thumbprint or None,
        "version": item.version or None,
        "notAfter": iso(item.not_after),
        "hostnames": list(item.hostnames),
        "lastSyncedAt": iso(item.last_synced_at),
        "lastCheckedAt": iso(item.last_checked_at),
        "lastSyncError": item.last_sync_error or None,
        "resourceId": item.resource_id or None,
        "serverFarmId": item.server_farm_id or None,
        "keyVaultSecretStatus": item.secret_status or None,
    }


def link_state(s: LinkState) -> dict:
    return {
        **link(s.link),
        "currentThumbprint": s.newest_thumbprint or None,
        "syncError": s.sync_error or None,
        "inSync": s.in_sync,
        "syncState": s.state.value,
        "conditions": conditions(s.conditions),
        "bindings": [binding_state(b, s.link) for b in s.binding_states],
    }


def binding_state(s: BindingState, owner: LinkedCertificate) -> dict:
    """A binding in an overview: measured like its link, with the app's ARM resource id."""
    b = s.binding
    return {
        **binding(b),
        "appResourceId": app_resource_id(owner.resource_id, b.resource_group, b.app, b.slot) or None,
        "inSync": s.in_sync,
        "syncState": s.state,
        "outOfSyncReason": s.reason or None,
    }


def overview(o: CertificateOverview) -> dict:
    return {
        **certificate(o.certificate, o.secret.vault_url),
        "keyVaultSecretId": o.secret.id,
        "currentVersion": o.current_version,
        "currentThumbprint": o.current_thumbprint,
        "currentError": o.current_error,
        "outOfSyncLinks": o.out_of_sync_links,
        "syncAvailable": o.sync_available,
        "conditions": conditions(o.conditions),
        "linkedCertificates": [link_state(s) for s in o.links],
    }


def operation(op: Operation) -> dict:
    error = {"code": op.error_code, "message": op.error_message} if op.error_code else None
    return {
        "id": op.id,
        "kind": op.kind.value,
        "target": op.target,
        "status": op.status.value,
        "createdAt": iso(op.created_at),
        "updatedAt": iso(op.updated_at),
        "requestedBy": op.requested_by or None,
        "parameters": op.parameters,
        "result": op.result,
        "error": error,
    }


def delivery(d: Delivery) -> dict:
    """A webhook delivery; `webhook` is scheme and host only (the path may be the secret)."""
    return {
        "id": d.id,
        "eventId": d.event_id,
        "eventType": d.event_type,
        "subject": d.subject,
        "webhook": d.webhook,
        "status": d.status.value,
        "attempts": d.attempts,
        "lastError": d.last_error or None,
        "operation": d.operation or None,
        "createdAt": iso(d.created_at),
        "nextAttemptAt": iso(d.next_attempt_at),
        "deliveredAt": iso(d.delivered_at),
    }


def attention(a: Attention) -> dict:
    """The health view; every item names its `certificate` (a link's, for links and deliveries about one)."""
    return {
        "expiringSoon": [
            {"certificate": c.name, "notAfter": iso(c.not_after), "renewalDueAt": iso(c.renewal_due_at),
             "status": c.status.value, "autoRenew": c.auto_renew}
            for c in a.expiring
        ],
        "failingRenewals": [
            {"certificate": c.name, "failureCount": c.failure_count, "lastError": c.last_error or None,
             "nextAttemptAt": iso(c.renewal_due_at), "status": c.status.value}
            for c in a.failing_renewals
        ],
        "linksOutOfSync": [
            {"link": o.state.link.name, "certificate": o.certificate, "syncState": o.state.state.value,
             "outOfSyncSince": iso(o.since), "lastSyncError": o.state.link.last_sync_error or None}
            for o in a.out_of_sync
        ],
        "failedOperations": [operation(op) for op in a.failed_operations],
        "failedDeliveries": [delivery(d) for d in a.failed_deliveries],
    }

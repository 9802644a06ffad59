"""Where a timer's schedule status (last and next occurrence) lives, and the past-due rule.

Like the Timers extension's StorageScheduleMonitor: one JSON blob per timer,
`timers/<hostId>/<timer>/status` in `azure-webjobs-hosts`, written after every run, so the
instance that takes the listener lock over knows which occurrence is next and runs a missed
one at once (once, however many were missed), with `past_due` set.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from devtools.local_host.schedules import TimerSchedule
from devtools.local_host.singleton import HOSTS_CONTAINER, ensure_container
from devtools.local_host.storage import development_storage_connection, emulator_trust, identity_credential

log = logging.getLogger("devtools.local_host")

STORAGE_SETTING = "AzureWebJobsStorage"


@dataclass(frozen=True)
class ScheduleStatus:
    """The host's ScheduleStatus: local times, `last` None before the first run."""

    last: datetime | None
    next: datetime
    last_updated: datetime

    def to_json(self) -> str:
        return json.dumps({
            "Last": self.last.isoformat() if self.last else "0001-01-01T00:00:00",
            "Next": self.next.isoformat(),
            "LastUpdated": self.last_updated.isoformat(),
        })

    @classmethod
    def from_json(cls, text: str) -> ScheduleStatus:
        data = json.loads(text)
        last = _local(data["Last"])
        return cls(None if last.year == 1 else last, _local(data["Next"]), _local(data["LastUpdated"]))


def _local(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def check_past_due(
    status: ScheduleStatus | None, now: datetime, schedule: TimerSchedule
) -> tuple[bool, ScheduleStatus | None]:
    """Pure: is an occurrence overdue at listener start, and the status to go on from.

    As the extension's ScheduleMonitor: no status means nothing is due; a recorded Next that the
    schedule would not give after Last means the schedule changed, so Next is recomputed from
    LastUpdated; the timer is past due when now is after Next.
    """
    if status is None:
        return False, None
    expected = schedule.next_after(status.last or status.last_updated)
    if expected != status.next:
        recomputed = schedule.next_after(status.last_updated)
        if recomputed is None:
            return False, None
        status = ScheduleStatus(status.last, recomputed, now)
    return now > status.next, status


class ScheduleMonitor(Protocol):
    def read(self) -> ScheduleStatus | None: ...

    def write(self, status: ScheduleStatus) -> None: ...


class MemoryScheduleMonitor:
    """No storage account: the status lives as long as the process."""

    def __init__(self) -> None:
        self._status: ScheduleStatus | None = None

    def read(self) -> ScheduleStatus | None:
        return self._status

    def write(self, status: ScheduleStatus) -> None:
        self._status = status


class BlobScheduleMonitor:
    def __init__(self, service: BlobServiceClient, blob_name: str) -> None:
        self.blob_name = blob_name
        self._service = service
        self._blob = service.get_blob_client(HOSTS_CONTAINER, blob_name)

    def read(self) -> ScheduleStatus | None:
        try:
            text = self._blob.download_blob(encoding="utf-8").readall()
        except ResourceNotFoundError:
            return None
        try:
            return ScheduleStatus.from_json(text)
        except (ValueError, KeyError, TypeError):
            log.warning("timer status %s is unreadable; starting the schedule afresh", self.blob_name)
            return None

    def write(self, status: ScheduleStatus) -> None:
        """Best effort, as in the host: a lost write only means a missed tick may run twice."""
        try:
            try:
                self._blob.upload_blob(status.to_json(), overwrite=True)
            except ResourceNotFoundError:
                ensure_container(self._service)
                self._blob.upload_blob(status.to_json(), overwrite=True)
        except AzureError as err:
            log.error("could not update the timer status %s: %s", self.blob_name, type(err).__name__)


def host_id(app_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """Instances of one app share a host id, so they share locks and timer status.

    `AzureFunctionsWebHost__hostid` wins, then the site name, as in Azure. Otherwise Core Tools
    derives one from the machine; here (a guess) the machine name plus a hash of the app
    folder, so two apps on one machine and one storage account do not share locks.
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get("AzureFunctionsWebHost__hostid") or environ.get("WEBSITE_SITE_NAME")
    if not explicit:
        digest = hashlib.sha256(str(app_dir.resolve()).encode()).hexdigest()[:8]
        explicit = f"{socket.gethostname()}-{digest}"
    cleaned = re.sub(r"[^a-z0-9-]", "", explicit.lower())
    return cleaned[:32].rstrip("-") or "localhost"


def blob_service(environ: Mapping[str, str] | None = None) -> BlobServiceClient | None:
    """The host's storage account for locks and timer status; None when there is none."""
    environ = os.environ if environ is None else environ
    value = environ.get(STORAGE_SETTING, "")
    if value.replace(" ", "").lower().startswith("usedevelopmentstorage=true"):
        value = development_storage_connection(value)
    if value:
        keys = {part.split("=", 1)[0].strip().lower() for part in value.split(";") if "=" in part}
        if "blobendpoint" not in keys and (any(k.endswith("endpoint") for k in keys) or "accountname" not in keys):
            return None  # endpoints given for other services only: the SDK would guess an Azure one
        try:
            return BlobServiceClient.from_connection_string(value, connection_timeout=5)
        except ValueError:
            return None
    endpoint = environ.get(f"{STORAGE_SETTING}__blobServiceUri") or environ.get(f"{STORAGE_SETTING}__serviceUri")
    account = environ.get(f"{STORAGE_SETTING}__accountName")
    if not endpoint and account:
        endpoint = f"https://{account}.blob.core.windows.net"
    if not endpoint:
        return None
    credential = identity_credential(STORAGE_SETTING, environ)
    return BlobServiceClient(endpoint, credential=credential, **emulator_trust(endpoint, environ))

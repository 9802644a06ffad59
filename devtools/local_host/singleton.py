"""The listener lock that makes a timer a singleton across every instance of one app.

Like the WebJobs SDK's blob lease distributed lock: the lock is a lease on the blob
`locks/<hostId>/<function>.Listener` in the container `azure-webjobs-hosts` of the app's
`AzureWebJobsStorage` account. The holder renews it at half its period; a holder that dies
stops renewing, the lease expires, and another instance's next attempt takes it over.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from datetime import timedelta
from typing import Protocol

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient

log = logging.getLogger("devtools.local_host")

HOSTS_CONTAINER = "azure-webjobs-hosts"
INSTANCE_ID = uuid.uuid4().hex  # one per host process, written on the lock blob as its owner


class TimerLock(Protocol):
    def try_acquire(self) -> bool: ...

    def lost(self) -> bool: ...

    def wait_lost(self, seconds: float) -> bool: ...

    def release(self) -> None: ...


class ProcessLock:
    """No storage account: the timer is a singleton within this process only."""

    def __init__(self) -> None:
        self._released = threading.Event()

    def try_acquire(self) -> bool:
        self._released.clear()
        return True

    def lost(self) -> bool:
        return self._released.is_set()

    def wait_lost(self, seconds: float) -> bool:
        return self._released.wait(seconds)

    def release(self) -> None:
        self._released.set()


def ensure_container(service: BlobServiceClient) -> None:
    with contextlib.suppress(ResourceExistsError):
        service.create_container(HOSTS_CONTAINER)


class BlobLeaseLock:
    """A renewed blob lease; `lost()` turns true when a renewal fails (another instance may hold it now)."""

    def __init__(self, service: BlobServiceClient, blob_name: str, period: timedelta) -> None:
        self.blob_name = blob_name
        self._blob: BlobClient = service.get_blob_client(HOSTS_CONTAINER, blob_name)
        self._service = service
        self._period = period
        self._lease: BlobLeaseClient | None = None
        self._lost = threading.Event()
        self._lost.set()
        self._renewer: threading.Thread | None = None

    def try_acquire(self) -> bool:
        """One attempt; False while another instance holds an unexpired lease."""
        try:
            lease = self._acquire()
        except HttpResponseError as err:
            if err.status_code == 409:  # LeaseAlreadyPresent: someone else is the listener
                return False
            raise
        self._blob.set_blob_metadata({"FunctionInstance": INSTANCE_ID}, lease=lease)
        self._lease = lease
        self._lost.clear()
        self._renewer = threading.Thread(target=self._renew, name=f"lease-{self.blob_name}", daemon=True)
        self._renewer.start()
        return True

    def _acquire(self) -> BlobLeaseClient:
        seconds = int(self._period.total_seconds())
        try:
            return self._blob.acquire_lease(lease_duration=seconds, lease_id=str(uuid.uuid4()))
        except ResourceNotFoundError:
            ensure_container(self._service)
            try:
                self._blob.upload_blob(b"", overwrite=False)
            except (ResourceExistsError, HttpResponseError) as err:
                if getattr(err, "status_code", 409) not in (409, 412):
                    raise
            return self._blob.acquire_lease(lease_duration=seconds, lease_id=str(uuid.uuid4()))

    def _renew(self) -> None:
        while not self._lost.wait(self._period.total_seconds() / 2):
            lease = self._lease
            if lease is None:
                return
            try:
                lease.renew()
            except AzureError as err:
                log.warning("lost the listener lock %s: %s", self.blob_name, type(err).__name__)
                self._lost.set()

    def lost(self) -> bool:
        return self._lost.is_set()

    def wait_lost(self, seconds: float) -> bool:
        return self._lost.wait(seconds)

    def release(self) -> None:
        lease, self._lease = self._lease, None
        self._lost.set()
        if self._renewer is not None:
            self._renewer.join(5)
        if lease is not None:
            with contextlib.suppress(AzureError):  # it expires on its own
                lease.release()

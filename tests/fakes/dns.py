"""In-memory DNS provider (shared.dns.base.DnsProvider): TXT values per name inside the zones
it was given, added and removed one at a time, with the adapters' errors."""
from __future__ import annotations

from shared.dns.base import absolute_name
from shared.errors import BadRequest, DependencyError


class FakeDns:
    def __init__(self, zones: tuple[str, ...] = ()) -> None:
        self.zones = {absolute_name(z) for z in zones}
        self.records: dict[str, tuple[str, ...]] = {}  # absolute name -> TXT values, in order added
        self.down = False

    def set_txt(self, fqdn: str, value: str) -> None:
        name = self._inside_a_zone(fqdn)
        values = self.records.get(name, ())
        if value not in values:
            self.records[name] = (*values, value)

    def clear_txt(self, fqdn: str, value: str) -> None:
        name = self._inside_a_zone(fqdn)
        values = tuple(v for v in self.records.get(name, ()) if v != value)
        if values:
            self.records[name] = values
        else:
            self.records.pop(name, None)

    def txt(self, fqdn: str) -> tuple[str, ...]:
        """What a resolver would see at the name (not part of the port)."""
        return self.records.get(absolute_name(fqdn), ())

    def _inside_a_zone(self, fqdn: str) -> str:
        if self.down:
            raise DependencyError("Azure DNS unreachable while writing TXT", code="DnsUpdateFailed")
        name = absolute_name(fqdn)
        if not any(name == zone or name.endswith("." + zone) for zone in self.zones):
            raise BadRequest(f"no DNS zone covers {name}", code="DnsZoneNotFound")
        return name

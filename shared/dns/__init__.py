"""DNS providers that publish ACME DNS-01 TXT records, one module each behind base.DnsProvider."""
from shared.dns.base import DnsProvider, absolute_name

__all__ = ["DnsProvider", "absolute_name"]

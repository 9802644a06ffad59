"""CORS as Core Tools applies it from local.settings.json `Host.CORS` / `Host.CORSCredentials`.

The host runs ASP.NET Core's CORS middleware in front of every function, before keys are checked
(a browser's preflight carries no key): a preflight from an allowed origin is answered 204 with the
Access-Control-Allow-* headers and never reaches a function; a preflight from any other origin gets
204 without them, so the browser refuses. Other requests run as usual and, from an allowed origin,
carry Access-Control-Allow-Origin. Without `Host.CORS` nothing of this happens (OPTIONS is a 404).
"""
from __future__ import annotations

from dataclasses import dataclass

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class CorsPolicy:
    origins: tuple[str, ...]  # "*" or exact origins ("https://app.example.com")
    credentials: bool = False

    @classmethod
    def from_setting(cls, value: str | None, credentials: bool = False) -> CorsPolicy | None:
        """`Host.CORS` is a comma-separated list; empty means no CORS at all."""
        origins = tuple(o.strip().rstrip("/") for o in (value or "").split(",") if o.strip())
        return cls(origins, credentials) if origins else None

    def preflight(self, method: str, headers: Headers) -> Headers | None:
        """The 204's headers when this is a preflight (OPTIONS + Origin + Access-Control-Request-Method)."""
        asked = _header(headers, "Access-Control-Request-Method")
        origin = _header(headers, "Origin")
        if method.upper() != "OPTIONS" or not origin or not asked:
            return None
        allowed = self._allow_origin(origin)
        if not allowed:
            return []
        reply = [*allowed, ("Access-Control-Allow-Methods", asked)]
        requested_headers = _header(headers, "Access-Control-Request-Headers")
        if requested_headers:
            reply.append(("Access-Control-Allow-Headers", requested_headers))
        return reply

    def response_headers(self, headers: Headers) -> Headers:
        """What an actual request from an allowed origin gets added to its reply."""
        origin = _header(headers, "Origin")
        return self._allow_origin(origin) if origin else []

    def _allow_origin(self, origin: str) -> Headers:
        if "*" in self.origins and not self.credentials:
            return [("Access-Control-Allow-Origin", "*")]
        if "*" not in self.origins and origin.rstrip("/").lower() not in {o.lower() for o in self.origins}:
            return []
        # Guess: with credentials on, "*" echoes the caller's origin (a browser refuses "*" with credentials).
        allowed = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        return [*allowed, ("Access-Control-Allow-Credentials", "true")] if self.credentials else allowed


def _header(headers: Headers, name: str) -> str:
    wanted = name.lower()
    return next((v.strip() for k, v in headers if k.lower() == wanted), "")

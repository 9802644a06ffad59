"""An authoritative DNS server (RFC 1035 wire format, UDP and TCP) for the emulator's dnsZones.

It answers A, AAAA, CAA, CNAME, MX, NS, PTR, SOA, SRV and TXT from the same store the ARM API
writes, so a TXT value certsync puts through azure-mgmt-dns is what Pebble reads over DNS a moment later.
The zone is the longest one that contains the name; a name outside every zone is REFUSED; a name with no record set of
the asked type is NODATA, a name with none at all NXDOMAIN, both with the zone's SOA in the
authority section. A UDP answer larger than the client's buffer (512, or its EDNS size) is
truncated (TC), and the client asks again over TCP.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from dataclasses import dataclass
from typing import Any

from devtools.arm_emulator.dns import ZONE_TYPE
from devtools.arm_emulator.store import Resource, ResourceStore

TYPE_A, TYPE_NS, TYPE_CNAME, TYPE_SOA, TYPE_PTR, TYPE_MX, TYPE_TXT = 1, 2, 5, 6, 12, 15, 16
TYPE_AAAA, TYPE_SRV, TYPE_OPT, TYPE_CAA = 28, 33, 41, 257
CLASS_IN, CLASS_ANY = 1, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
_TYPE_NAMES = {
    TYPE_A: "A",
    TYPE_NS: "NS",
    TYPE_CNAME: "CNAME",
    TYPE_SOA: "SOA",
    TYPE_PTR: "PTR",
    TYPE_MX: "MX",
    TYPE_TXT: "TXT",
    TYPE_AAAA: "AAAA",
    TYPE_SRV: "SRV",
    TYPE_CAA: "CAA",
}
_UDP_LIMIT = 512
_EDNS_LIMIT = 1232  # the buffer size we advertise and honour at most (DNS flag day 2020)
_MAX_TCP_MESSAGE = 65535
_TCP_IDLE_S = 10.0


class FormatError(ValueError):
    """The query is not a well-formed DNS message."""


@dataclass(frozen=True)
class Question:
    name: str  # lower case, no trailing dot
    raw_name: bytes  # as the client wrote it (case preserved, echoed back)
    qtype: int
    qclass: int


@dataclass(frozen=True)
class Query:
    ident: int
    flags: int
    question: Question
    udp_limit: int  # the client's EDNS buffer size, or 512
    edns: bool


# -- wire format -----------------------------------------------------------------------------


def parse_query(data: bytes) -> Query:
    if len(data) < 12:
        raise FormatError("shorter than a header")
    ident, flags, qdcount, _, _, arcount = struct.unpack("!6H", data[:12])
    if flags & 0x8000 or qdcount != 1:
        raise FormatError("not a query with one question")
    raw_name, offset = _read_name(data, 12)
    if offset + 4 > len(data):
        raise FormatError("question cut short")
    qtype, qclass = struct.unpack("!HH", data[offset : offset + 4])
    offset += 4
    udp_limit, edns = _UDP_LIMIT, False
    for _ in range(arcount):
        _, offset = _read_name(data, offset)
        if offset + 10 > len(data):
            raise FormatError("additional record cut short")
        rtype, rclass, _, rdlength = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10 + rdlength
        if rtype == TYPE_OPT:
            udp_limit, edns = min(max(rclass, _UDP_LIMIT), _EDNS_LIMIT), True
    name = b".".join(_labels(raw_name)).decode("ascii", "replace").lower()
    return Query(ident, flags, Question(name, raw_name, qtype, qclass), udp_limit, edns)


def _read_name(data: bytes, offset: int) -> tuple[bytes, int]:
    """An uncompressed name as written (queries never compress the question)."""
    start = offset
    while True:
        if offset >= len(data):
            raise FormatError("name runs past the message")
        length = data[offset]
        if length & 0xC0:
            raise FormatError("compressed or extended label in a query")
        offset += 1 + length
        if length == 0:
            if offset - start > 255:
                raise FormatError("name longer than 255 octets")
            return data[start:offset], offset


def _labels(raw_name: bytes) -> list[bytes]:
    labels, offset = [], 0
    while raw_name[offset]:
        length = raw_name[offset]
        labels.append(raw_name[offset + 1 : offset + 1 + length])
        offset += 1 + length
    return labels


def encode_name(name: str) -> bytes:
    labels = [label for label in name.rstrip(".").split(".") if label]
    return b"".join(bytes([len(p)]) + p for p in (label.encode("ascii") for label in labels)) + b"\x00"


def _record(owner: bytes, rtype: int, ttl: int, rdata: bytes) -> bytes:
    return owner + struct.pack("!HHIH", rtype, CLASS_IN, ttl, len(rdata)) + rdata


def _txt_rdata(strings: list[str]) -> bytes:
    parts = [s.encode("utf-8")[:255] for s in strings]
    return b"".join(bytes([len(p)]) + p for p in parts)


def _soa_rdata(soa: dict[str, Any]) -> bytes:
    email = str(soa.get("email", "hostmaster")).replace("@", ".")
    numbers = (soa.get(k, 0) for k in ("serialNumber", "refreshTime", "retryTime", "expireTime", "minimumTTL"))
    return encode_name(str(soa.get("host", ""))) + encode_name(email) + struct.pack("!5I", *numbers)


def _rdatas(record_type: str, props: dict[str, Any]) -> list[bytes]:
    """The records of one record set in wire format (the types Azure DNS names in properties)."""
    if record_type == "TXT":
        return [_txt_rdata(r.get("value", [])) for r in props.get("TXTRecords", [])]
    if record_type == "NS":
        return [encode_name(r["nsdname"]) for r in props.get("NSRecords", [])]
    if record_type == "SOA":
        return [_soa_rdata(props["SOARecord"])] if props.get("SOARecord") else []
    if record_type == "A":
        return [socket.inet_pton(socket.AF_INET, r["ipv4Address"]) for r in props.get("ARecords", [])]
    if record_type == "AAAA":
        return [socket.inet_pton(socket.AF_INET6, r["ipv6Address"]) for r in props.get("AAAARecords", [])]
    if record_type == "CNAME":
        return [encode_name(props["CNAMERecord"]["cname"])] if props.get("CNAMERecord") else []
    if record_type == "MX":
        return [struct.pack("!H", r["preference"]) + encode_name(r["exchange"]) for r in props.get("MXRecords", [])]
    if record_type == "PTR":
        return [encode_name(r["ptrdname"]) for r in props.get("PTRRecords", [])]
    if record_type == "SRV":
        return [
            struct.pack("!3H", r["priority"], r["weight"], r["port"]) + encode_name(r["target"])
            for r in props.get("SRVRecords", [])
        ]
    if record_type == "CAA":
        return [_caa_rdata(r) for r in props.get("caaRecords", [])]
    return []


def _caa_rdata(record: dict[str, Any]) -> bytes:
    tag = str(record["tag"]).encode("ascii")
    return bytes([record["flags"], len(tag)]) + tag + str(record["value"]).encode("utf-8")


# -- answers ---------------------------------------------------------------------------------


@dataclass
class Answer:
    rcode: int
    answers: list[bytes]
    authority: list[bytes]


class ZoneAnswers:
    """Looks names up in the store, under its lock, as Azure DNS's name servers would."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    def answer(self, question: Question) -> Answer:
        if question.qclass not in (CLASS_IN, CLASS_ANY):
            return Answer(REFUSED, [], [])
        with self.store.lock:
            zone = self._zone_for(question.name)
            if zone is None:
                return Answer(REFUSED, [], [])
            return self._from_zone(zone, question)

    def _zone_for(self, name: str) -> Resource | None:
        # Guess: a zone name held in two subscriptions or groups is answered from the first by id
        # (in Azure each copy has its own name servers and only the delegated one is reachable).
        best: Resource | None = None
        for zone in self.store.all_of_type(ZONE_TYPE):
            apex = str(zone.body["name"]).lower()
            if (name == apex or name.endswith("." + apex)) and (
                best is None or len(apex) > len(str(best.body["name"]))
            ):
                best = zone
        return best

    def _from_zone(self, zone: Resource, question: Question) -> Answer:
        apex = str(zone.body["name"]).lower()
        relative = "@" if question.name == apex else question.name[: -len(apex) - 1]
        sets = self._record_sets(zone)
        at_name = {t: r for (n, t), r in sets.items() if n == relative}
        wanted = _TYPE_NAMES.get(question.qtype)
        owner = question.raw_name
        if wanted is not None and wanted in at_name:
            props = at_name[wanted].properties
            ttl = int(props.get("TTL", 3600))
            return Answer(NOERROR, [_record(owner, question.qtype, ttl, d) for d in _rdatas(wanted, props)], [])
        if "CNAME" in at_name and wanted is not None:
            props = at_name["CNAME"].properties
            records = [_record(owner, TYPE_CNAME, int(props.get("TTL", 3600)), d) for d in _rdatas("CNAME", props)]
            return Answer(NOERROR, records, [])
        authority = self._soa(zone, sets)
        below = any(n.endswith("." + relative) for n, _ in sets) if relative != "@" else True
        exists = bool(at_name) or below
        return Answer(NOERROR if exists else NXDOMAIN, [], authority)

    def _record_sets(self, zone: Resource) -> dict[tuple[str, str], Resource]:
        sets: dict[tuple[str, str], Resource] = {}
        prefix = f"{ZONE_TYPE}/"
        for record_type in _TYPE_NAMES.values():
            for record in self.store.children(zone.id, prefix + record_type):
                sets[(str(record.body["name"]).lower(), record_type)] = record
        return sets

    def _soa(self, zone: Resource, sets: dict[tuple[str, str], Resource]) -> list[bytes]:
        soa = sets.get(("@", "SOA"))
        if soa is None:
            return []
        props = soa.properties
        # RFC 2308: a negative answer's SOA TTL is the lesser of its TTL and its minimum field.
        ttl = min(int(props.get("TTL", 3600)), int(props.get("SOARecord", {}).get("minimumTTL", 300)))
        return [_record(encode_name(str(zone.body["name"])), TYPE_SOA, ttl, d) for d in _rdatas("SOA", props)]


def respond(answers: ZoneAnswers, data: bytes, *, udp: bool) -> bytes | None:
    """The reply to one message; None for something not worth answering (a reply, or garbage)."""
    try:
        query = parse_query(data)
    except FormatError:
        if len(data) < 12 or data[2] & 0x80:
            return None
        return struct.pack("!6H", struct.unpack("!H", data[:2])[0], 0x8000 | FORMERR, 0, 0, 0, 0)
    opcode = (query.flags >> 11) & 0xF
    if opcode != 0:
        result = Answer(NOTIMP, [], [])
    else:
        try:
            result = answers.answer(query.question)
        except (KeyError, ValueError, OSError, TypeError):
            result = Answer(SERVFAIL, [], [])
    return _message(query, result, limit=query.udp_limit if udp else _MAX_TCP_MESSAGE)


def _message(query: Query, result: Answer, *, limit: int) -> bytes:
    question = query.question.raw_name + struct.pack("!HH", query.question.qtype, query.question.qclass)
    opt = struct.pack("!BHHIH", 0, TYPE_OPT, _EDNS_LIMIT, 0, 0) if query.edns else b""
    recursion_desired = query.flags & 0x0100
    flags = 0x8000 | 0x0400 | recursion_desired | result.rcode  # QR, AA (authoritative), RD echoed
    body = b"".join(result.answers) + b"".join(result.authority)
    counts = (1, len(result.answers), len(result.authority), 1 if opt else 0)
    message = struct.pack("!6H", query.ident, flags, *counts) + question + body + opt
    if len(message) <= limit:
        return message
    # Too big for the client's UDP buffer: the header and question alone, TC set.
    return struct.pack("!6H", query.ident, flags | 0x0200, 1, 0, 0, 1 if opt else 0) + question + opt


# -- servers ---------------------------------------------------------------------------------


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        reply = respond(self.server.answers, data, udp=True)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(_TCP_IDLE_S)
        try:
            while True:
                prefix = _recv_exact(conn, 2)
                if prefix is None:
                    return
                data = _recv_exact(conn, struct.unpack("!H", prefix)[0])
                if data is None:
                    return
                reply = respond(self.server.answers, data, udp=False)
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = conn.recv(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], answers: ZoneAnswers) -> None:
        self.answers = answers
        super().__init__(address, _UdpHandler)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], answers: ZoneAnswers) -> None:
        self.answers = answers
        super().__init__(address, _TcpHandler)


class DnsServer:
    """UDP and TCP on one port (0: a port free for both), each served by a background thread."""

    def __init__(self, store: ResourceStore, host: str = "127.0.0.1", port: int = 0) -> None:
        answers = ZoneAnswers(store)
        self._udp, self._tcp = _bind_both(host, port, answers)
        self.port: int = self._udp.server_address[1]
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, name=f"arm-dns-{n}", daemon=True)
            for s, n in ((self._udp, "udp"), (self._tcp, "tcp"))
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for server, thread in zip((self._udp, self._tcp), self._threads, strict=True):
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def _bind_both(host: str, port: int, answers: ZoneAnswers) -> tuple[_UdpServer, _TcpServer]:
    for _ in range(1 if port else 50):
        udp = _UdpServer((host, port), answers)
        try:
            return udp, _TcpServer((host, udp.server_address[1]), answers)
        except OSError:
            udp.server_close()
            if port:
                raise
    raise OSError("no loopback port free for both UDP and TCP")

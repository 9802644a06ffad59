"""Benchmarks: `python -m bench` (or `make bench`) measures the sync sweep against a per-link
sync loop, renewal-to-bindings latency over HTTP, and a few smaller figures, and writes
docs/benchmarks.md.

Layout: stack (processes and the emulators' management API), measure (counters, RSS, timing),
fleet (building the 10,000-link fleet), variants (sweep vs naive, verification), worker (one
variant in its own process), renewal_http and figures (the other sections), report (output).
"""

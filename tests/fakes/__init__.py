"""In-memory implementations of shared.ports for the fast test ring: ETag-checked writes and
the same errors as the Azure adapters (tests/contract/ holds them to that), plus hooks that let
a test pause one actor at a chosen step while another runs."""

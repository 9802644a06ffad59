"""Notifications (issue #15): events recorded durably, then delivered to webhooks from the
operation queue with retries and a backoff, each delivery recorded."""

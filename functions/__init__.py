"""Thin trigger adapters: parse the request, call one use case in shared/, shape the response."""

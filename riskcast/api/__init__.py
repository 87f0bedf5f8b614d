"""The HTTP API, the live-stream hub and its WebSocket and SSE adapters."""

"""Cross-cutting HTTP concerns: request ids and structured logs, security headers, CORS."""

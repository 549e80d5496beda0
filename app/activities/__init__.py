"""Call logs: calls and messages with a merchant's contacts (contact that is never a verified visit)."""

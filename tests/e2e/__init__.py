"""End-to-end tests: real processes talking over 127.0.0.1 to a real Sentry-protocol server (bugsink)."""

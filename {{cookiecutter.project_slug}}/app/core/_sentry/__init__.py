"""Behind the Sentry door: imported by app/core/sentry.py and by each other only."""

#!/bin/sh
# The image's entry point.
#   serve    (the default) start the web server: WEB_CONCURRENCY worker processes on port 8000
#   migrate  upgrade the database in DATABASE_URL to the newest migration, then exit
#   anything else runs as a command, e.g. `alembic current` or `sh`
# Migrations never run on `serve`: with several containers they would race. Run `migrate` once per release.
set -eu

command="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$command" in
    serve)
        # --no-access-log: the service writes its own access line (with request_id and trace_id) per request.
        exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --workers "${WEB_CONCURRENCY:-1}" --no-access-log "$@"
        ;;
    migrate)
        exec alembic upgrade head "$@"
        ;;
    *)
        exec "$command" "$@"
        ;;
esac

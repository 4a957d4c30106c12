#!/bin/sh
# The image's entry point.
#   serve    (the default) start the web server on port 8000: WEB_CONCURRENCY worker processes, by default one per
#            CPU the container is given
#   migrate  upgrade the database in DATABASE_URL to the newest migration, then exit
{%- if cookiecutter.include_worker == "yes" %}
#   worker   run jobs from BROKER_URL's queue; on SIGTERM take no more and finish the running ones
#   scheduler  enqueue each task at its schedule: run exactly one
{%- endif %}
#   workers  print how many worker processes `serve` would start
#   anything else runs as a command, e.g. `alembic current` or `sh`
# Migrations never run on `serve`: with several containers they would race. Run `migrate` once per release.
set -eu

# CPUs this container may use: the scheduler's CPU set (nproc), capped by a cgroup v2 quota (docker --cpus,
# a Kubernetes CPU limit) rounded up.
cpu_count() {
    count=$(nproc)
    if [ -r /sys/fs/cgroup/cpu.max ]; then
        read -r quota period < /sys/fs/cgroup/cpu.max
        if [ "$quota" != "max" ]; then
            limit=$(( (quota + period - 1) / period ))
            [ "$limit" -lt "$count" ] && count=$limit
        fi
    fi
    echo "$count"
}

command="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$command" in
    serve)
        # --no-access-log: the service writes its own access line (with request_id and trace_id) per request.
        # --no-server-header: a response need not name the server software (and its version) to an attacker.
        # On SIGTERM each worker stops accepting and gives the requests in flight GRACEFUL_SHUTDOWN_SECONDS.
        exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --no-access-log --no-server-header \
            --workers "${WEB_CONCURRENCY:-$(cpu_count)}" \
            --timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS:-15}" "$@"
        ;;
    migrate)
        exec alembic upgrade head "$@"
        ;;
{%- if cookiecutter.include_worker == "yes" %}
    worker)
        exec taskiq worker app.worker.broker:broker app.worker.tasks --workers 1 --no-configure-logging \
            --wait-tasks-timeout "${GRACEFUL_SHUTDOWN_SECONDS:-15}" "$@"
        ;;
    scheduler)
        exec taskiq scheduler app.worker.scheduler:scheduler app.worker.tasks --no-configure-logging "$@"
        ;;
{%- endif %}
    workers)
        echo "${WEB_CONCURRENCY:-$(cpu_count)}"
        ;;
    *)
        exec "$command" "$@"
        ;;
esac

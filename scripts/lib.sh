# shellcheck shell=bash disable=SC2034 # constants here are used by the scripts that source this file
# Shared helpers for scripts/setup, scripts/run and scripts/test. Sourced, never executed.
#
# The caller sets ROOT (the repository root) before sourcing this file.

: "${ROOT:?ROOT must be set before sourcing scripts/lib.sh}"

DEFAULT_DATABASE_URL="postgresql+psycopg://127.0.0.1:5432/fieldsales"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379/0"
VENV="$ROOT/.venv"
# .venv gets both: what the service runs with, and the tests' and tools' (a superset, at the same versions).
REQUIREMENTS="$ROOT/requirements.txt"
REQUIREMENTS_DEV="$ROOT/requirements-dev.txt"
REQUIREMENTS_STAMP="$VENV/.requirements.sha256"
LOG_DIR="$ROOT/var/log"
DEMO_LOGINS_FILE="$ROOT/var/demo-logins.txt"

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

# The OS user name. $USER is not always set (containers, CI, cron), so ask the system.
os_user() { id -un; }

# File descriptor 9 is scripts/setup's lock. Commands that may start daemons (pg_ctlcluster, redis-server,
# apt-get's service starts) run with it closed, or the daemon would inherit it and hold the lock forever.

# Run a command as root: directly when we are root, through sudo otherwise. Without a terminal
# (CI) sudo must not prompt, so it fails fast instead of hanging.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@" 9>&-
    elif have sudo; then
        if [ -t 0 ]; then sudo "$@" 9>&-; else sudo -n "$@" 9>&-; fi
    else
        die "need root for: $* (run as root or install sudo)"
    fi
}

# Run a command as the postgres OS user (the cluster superuser, reachable by peer auth on the socket).
# cd / first: postgres may not be allowed into the caller's working directory.
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@" 9>&-)
    elif have sudo; then
        if [ -t 0 ]; then (cd / && sudo -u postgres "$@" 9>&-); else (cd / && sudo -n -u postgres "$@" 9>&-); fi
    else
        die "need sudo to run as the postgres user: $*"
    fi
}

# Install Debian packages. `apt-get update` runs at most once per script run, and only when something is
# actually installed. Output goes to var/log/setup-apt.log; its tail is shown when apt fails.
APT_UPDATED=0
apt_install() {
    have apt-get || die "cannot install $* automatically (no apt-get): install it by hand, or use docker compose"
    mkdir -p "$LOG_DIR"
    local log="$LOG_DIR/setup-apt.log"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1; then
            tail -n 30 "$log" >&2
            die "apt-get update failed (full log: $log)"
        fi
        APT_UPDATED=1
    fi
    say "Installing $*"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get install $* failed (full log: $log)"
    fi
}

sha256_of() {
    if have sha256sum; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

# A python3 >= 3.11 to build the venv with: $PYTHON if set, else the first suitable one on PATH.
find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if have "$candidate" &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Split DATABASE_URL and REDIS_URL into shell variables (PG_HOST, PG_PORT, PG_USER, PG_PASSWORD, PG_DB,
# PG_LOCAL, REDIS_HOST, REDIS_PORT, REDIS_LOCAL). Any python3 will do for this.
parse_urls() {
    local py
    py="$(command -v python3 || true)"
    [ -n "$py" ] || py="$(find_python || true)"
    [ -n "$py" ] || die "python3 not found"
    eval "$(
        DATABASE_URL="${DATABASE_URL:-$DEFAULT_DATABASE_URL}" REDIS_URL="${REDIS_URL:-$DEFAULT_REDIS_URL}" "$py" - <<'PY'
import os, shlex
from urllib.parse import unquote, urlsplit

LOCAL = {"", "127.0.0.1", "localhost", "::1"}
db = urlsplit(os.environ["DATABASE_URL"])
rd = urlsplit(os.environ["REDIS_URL"])
values = {
    "PG_HOST": db.hostname or "",
    "PG_PORT": str(db.port or 5432),
    "PG_USER": unquote(db.username or ""),
    "PG_PASSWORD": unquote(db.password or ""),
    "PG_DB": unquote(db.path.lstrip("/")),
    "PG_LOCAL": "1" if (db.hostname or "") in LOCAL else "0",
    "REDIS_HOST": rd.hostname or "127.0.0.1",
    "REDIS_PORT": str(rd.port or 6379),
    "REDIS_LOCAL": "1" if (rd.hostname or "127.0.0.1") in LOCAL and rd.scheme == "redis" else "0",
}
for key, value in values.items():
    print(f"{key}={shlex.quote(value)}")
PY
    )"
    PG_ROLE="${PG_USER:-$(os_user)}"
    PG_DB="${PG_DB:-$PG_ROLE}"
}

# Extract the login lines ("bd1 / demo-pass-1 (bd, tenant demo)") from `flask seed-demo` output.
demo_logins_from() { grep -E '^[^ ]+ / [^ ]+ \(' || true; }

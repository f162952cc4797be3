#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the tests, from Debian's
# packages, listening on loopback only.
#   pg.sh start DIR   makes a cluster in DIR, starts it, prints its URL
#   pg.sh stop DIR    stops it (fast shutdown) and removes it
#   pg.sh kill DIR    stops it at once, as a crash would (immediate shutdown)
#   pg.sh standby DIR PRIMARY_DIR   a streaming standby of that server; prints its port
#   pg.sh promote DIR makes a standby the primary
# initdb refuses to run as root; as root the cluster runs as the postgres user.
set -euo pipefail
action=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (Debian package postgresql)" >&2; exit 1; }
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
# The cluster lives in a folder of its own that its owner can reach (a
# root-only test folder is not); DIR/cluster names it.
home() { cat "$dir/cluster"; }
case $action in
  start)
    mkdir -p "$dir"
    cluster=$(mktemp -d "${TMPDIR:-/tmp}/cosmonaut-pg.XXXXXX")
    echo "$cluster" >"$dir/cluster"
    [ "$(id -u)" = 0 ] && chown postgres: "$cluster"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$cluster/data" -U cosmonaut --auth=trust -E UTF8 --no-sync >"$dir/initdb.log"
    # Tests need no crash safety from the OS, only from PostgreSQL itself.
    printf '%s\n' "port = $port" "listen_addresses = '127.0.0.1'" \
      "unix_socket_directories = '$cluster'" "fsync = off" "max_connections = 200" \
      | as_owner tee -a "$cluster/data/postgresql.conf" >/dev/null
    as_owner "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w start >/dev/null
    echo "postgres://cosmonaut@127.0.0.1:$port/postgres?sslmode=disable"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$(home)/data" -m fast -w stop >/dev/null
    rm -rf "$(home)" ;;
  kill) as_owner "$bin/pg_ctl" -D "$(home)/data" -m immediate -w stop >/dev/null ;;
  standby)  # pg.sh standby DIR PRIMARY_DIR: a streaming standby of PRIMARY_DIR's server
    primary=$(cat "$3/cluster")
    primary_port=$(sed -n 's/^port = //p' "$primary/data/postgresql.conf" | tail -1)
    mkdir -p "$dir"
    cluster=$(mktemp -d "${TMPDIR:-/tmp}/cosmonaut-pg.XXXXXX")
    echo "$cluster" >"$dir/cluster"
    [ "$(id -u)" = 0 ] && chown postgres: "$cluster"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U cosmonaut -D "$cluster/data" \
      -R -X stream --no-sync -d "application_name=standby"
    printf '%s\n' "port = $port" "unix_socket_directories = '$cluster'" \
      | as_owner tee -a "$cluster/data/postgresql.conf" >/dev/null
    as_owner "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w start >/dev/null
    echo "$port"
    ;;
  promote) as_owner "$bin/pg_ctl" -D "$(home)/data" -w promote >/dev/null ;;
  restart)  # after stop or kill, on the same port
    as_owner "$bin/pg_ctl" -D "$(home)/data" -l "$(home)/server.log" -w start >/dev/null ;;
  *) echo "usage: pg.sh start|stop|kill|restart|standby|promote DIR" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs a PostgreSQL server ("$@": the postgres command, possibly behind setpriv) and turns TERM/INT
# into a fast shutdown: postgres's own TERM is a "smart" shutdown that waits for every client to
# leave, and Vault's database engine keeps pooled connections open.
"$@" &
pid=$!
trap 'kill -INT "$pid" 2>/dev/null' TERM INT
wait "$pid"; rc=$?
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done
exit "$rc"

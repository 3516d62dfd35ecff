#!/usr/bin/env bash
# Runs "$@" and ends it when this script's stdin closes. The environment holds the write end of
# that pipe, so a server never outlives the process that started it, even if that process is
# killed with SIGKILL. A TERM to this script's process group ends the server too.
# Background jobs get /dev/null as stdin unless told otherwise: keep the pipe on fd 3.
exec 3<&0
"$@" </dev/null 3<&- &
child=$!
(
  read -r _ <&3 || true
  kill -TERM "$child" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$child" 2>/dev/null
) &
watcher=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"; rc=$?
# wait returns early when a trapped signal arrives: wait for the child itself to go.
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
kill "$watcher" 2>/dev/null
# If the process that started us is gone, nobody else will remove the environment's state.
# (CUSTOS_ENV_EXTRA_DIR: a server's own directory outside it, e.g. PostgreSQL's, owned by another user.)
if [ -n "${CUSTOS_ENV_DIR:-}" ] && ! kill -0 "$PPID" 2>/dev/null; then
  rm -rf "$CUSTOS_ENV_DIR" ${CUSTOS_ENV_EXTRA_DIR:+"$CUSTOS_ENV_EXTRA_DIR"}
fi
exit "$rc"

#!/usr/bin/env bash
# `npm run env -- ...` entry. Node scans its whole command line for `--env-file` (even after the
# script name) and loads that file itself, so the flag is renamed before Node sees it.
args=()
for a in "$@"; do
  case "$a" in
    --env-file) args+=(--write-env-file) ;;
    --env-file=*) args+=("--write-env-file=${a#--env-file=}") ;;
    *) args+=("$a") ;;
  esac
done
exec node --import tsx "$(dirname "$0")/cli.ts" "${args[@]}"

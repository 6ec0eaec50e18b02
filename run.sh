#!/usr/bin/env bash
# Container entry for the contest pod (see /work/shared/spec/CONTEST.md, "Roles").
#
# Lifecycle: start the scaler, wait until it accepts TCP connections, wait until the
# simulator's statistics port appears, then keep the scaler running for as long as that port
# stays up. When the simulator goes away the run is over: stop the scaler (SIGTERM, then SIGKILL
# after a grace period) and exit 0. If the scaler dies on its own first, exit non-zero.
#
# Only bash builtins and coreutils are used: node:20-slim has neither nc nor curl.
#
# Exit status:
#   0    the simulator went away and the scaler was stopped
#   N    the scaler exited on its own with status N (1 if it exited 0: that is still premature)
#   1    the scaler never accepted connections within SCALER_START_TIMEOUT_SECS
#   N    after SIGTERM/SIGINT sent to run.sh: the scaler's exit status
set -uo pipefail

SCALER_CMD=${SCALER_CMD:-node dist/src/main.js}
PROBE_HOST=${PROBE_HOST:-127.0.0.1}
SCALER_PORT=${SCALER_PORT:-9001}
SIM_STATS_PORT=${SIM_STATS_PORT:-9000}

# Interval between probes while waiting for a port to appear, and while waiting for the
# scaler to exit after a stop signal.
POLL_INTERVAL_SECS=${POLL_INTERVAL_SECS:-0.2}
# Interval between probes while the simulator runs; each probe is one short TCP connect.
WATCH_INTERVAL_SECS=${WATCH_INTERVAL_SECS:-1}
# Consecutive failed probes before the simulator counts as gone: one refused or slow connect
# under load must not end the scaler in the middle of a run.
STATS_DOWN_CONFIRMATIONS=${STATS_DOWN_CONFIRMATIONS:-3}
# Upper bound on one connect: a full accept backlog drops SYNs instead of refusing them.
PROBE_TIMEOUT_SECS=${PROBE_TIMEOUT_SECS:-2}
# How long the scaler may take to listen; 0 waits forever.
SCALER_START_TIMEOUT_SECS=${SCALER_START_TIMEOUT_SECS:-60}
# How long the scaler may take to exit after SIGTERM before it is killed.
STOP_GRACE_SECS=${STOP_GRACE_SECS:-10}

log() { printf '[run.sh] %s\n' "$*" >&2; }

# Default SCALER_CMD is relative to the project root, which is where this script lives.
cd "$(dirname "$0")" || { log "cannot cd to $(dirname "$0")"; exit 1; }

# "1.25" -> 1250, using bash arithmetic only.
secs_to_ms() {
  local s=$1 int frac
  int=${s%%.*}
  if [[ $s == *.* ]]; then frac=${s#*.}; else frac=''; fi
  frac="${frac}000"
  echo $(( 10#${int:-0} * 1000 + 10#${frac:0:3} ))
}

now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}   # microseconds since the epoch
    echo $(( t / 1000 ))
  else
    date +%s%3N
  fi
}

if command -v timeout >/dev/null 2>&1; then HAVE_TIMEOUT=1; else HAVE_TIMEOUT=0; fi

# Succeeds if host:port accepts a TCP connection; the connection is closed at once.
port_open() {
  if (( HAVE_TIMEOUT )); then
    timeout "$PROBE_TIMEOUT_SECS" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
  else
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
  fi
}

# Sleeps in the background so that a trapped signal interrupts the wait at once.
pause() {
  sleep "$1" &
  wait $! 2>/dev/null
}

scaler_pid=''
scaler_alive() { [[ -n $scaler_pid ]] && kill -0 "$scaler_pid" 2>/dev/null; }

# Reaps the scaler and sets scaler_exit to its exit status. Not usable in $(...): a subshell
# cannot wait for its parent's children.
scaler_exit=0
reap_scaler() {
  while :; do
    wait "$scaler_pid" 2>/dev/null
    scaler_exit=$?
    # >128 with the process still alive means wait was interrupted by a trapped signal.
    if (( scaler_exit > 128 )) && scaler_alive; then continue; fi
    return
  done
}

# Sends $1 to the scaler, waits up to STOP_GRACE_SECS for it to exit, then SIGKILLs it.
# Leaves its exit status in scaler_exit.
stop_scaler() {
  local sig=$1 deadline
  trap '' TERM INT   # a second signal during the stop must not restart it
  if scaler_alive; then
    log "sending SIG$sig to scaler (pid $scaler_pid)"
    kill -s "$sig" "$scaler_pid" 2>/dev/null
    deadline=$(( $(now_ms) + $(secs_to_ms "$STOP_GRACE_SECS") ))
    while scaler_alive && (( $(now_ms) < deadline )); do pause "$POLL_INTERVAL_SECS"; done
    if scaler_alive; then
      log "scaler still running ${STOP_GRACE_SECS}s after SIG$sig: sending SIGKILL"
      kill -s KILL "$scaler_pid" 2>/dev/null
    fi
  fi
  reap_scaler
  log "scaler exited with status $scaler_exit"
}

on_signal() {
  log "received SIG$1: forwarding to scaler"
  stop_scaler "$1"
  exit "$scaler_exit"
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT

# The scaler died before the simulator finished: report and propagate a non-zero status.
scaler_died() {
  reap_scaler
  log "ERROR: scaler exited prematurely with status $scaler_exit ($1)"
  if (( scaler_exit == 0 )); then exit 1; fi
  exit "$scaler_exit"
}

log "starting scaler: $SCALER_CMD"
# exec inside the background subshell makes $! the scaler itself, so signals reach it directly.
eval "exec $SCALER_CMD" &
scaler_pid=$!

log "waiting for scaler on $PROBE_HOST:$SCALER_PORT"
start_deadline=0
if [[ $(secs_to_ms "$SCALER_START_TIMEOUT_SECS") -gt 0 ]]; then
  start_deadline=$(( $(now_ms) + $(secs_to_ms "$SCALER_START_TIMEOUT_SECS") ))
fi
until port_open "$PROBE_HOST" "$SCALER_PORT"; do
  scaler_alive || scaler_died "before listening on :$SCALER_PORT"
  if (( start_deadline > 0 && $(now_ms) >= start_deadline )); then
    log "ERROR: scaler not listening on :$SCALER_PORT after ${SCALER_START_TIMEOUT_SECS}s"
    stop_scaler TERM
    exit 1
  fi
  pause "$POLL_INTERVAL_SECS"
done
log "scaler is listening on :$SCALER_PORT"

log "waiting for simulator on $PROBE_HOST:$SIM_STATS_PORT"
until port_open "$PROBE_HOST" "$SIM_STATS_PORT"; do
  scaler_alive || scaler_died "while waiting for the simulator"
  pause "$POLL_INTERVAL_SECS"
done
log "simulator is up on :$SIM_STATS_PORT"

misses=0
while (( misses < STATS_DOWN_CONFIRMATIONS )); do
  pause "$WATCH_INTERVAL_SECS"
  scaler_alive || scaler_died "while the simulator was running"
  if port_open "$PROBE_HOST" "$SIM_STATS_PORT"; then misses=0; else misses=$(( misses + 1 )); fi
done
log "simulator on :$SIM_STATS_PORT is gone: stopping scaler"

stop_scaler TERM
exit 0

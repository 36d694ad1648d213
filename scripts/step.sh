# Sourced by run.sh, test.sh and packaging scripts: one way to run a step so that a failure is never silent.
#
#   step NAME COMMAND [ARGS...]
#
# Runs COMMAND with its output kept in artifacts/logs/NAME.log (a build's hundreds of lines stay out of the
# way). On success it prints nothing and returns 0. On failure it prints one line on stderr,
#   PROGRAM: step 'NAME' failed: <the command's own first error line> (full output: artifacts/logs/NAME.log)
# and returns the command's exit status, so `step ... || exit 1` stops the script with the reason shown.

# The first line of LOG that states an error: compiler and MSBuild "error CS1002"/"error NU1301" lines, apt's
# "E:", npm's "ERR!", "fatal:" and "Unhandled exception"; otherwise its last non-empty line.
step_reason() {
  local log=$1 reason
  reason=$(grep -m1 -E '(: |^ *)(error|fatal)( [A-Z]+[0-9]+)?:|^E: |^Err:|ERR!|Unhandled exception|command not found|No such file' "$log" \
    | sed -E 's/^ +//; s/ \[[^]]*\.(cs|fs|vb)proj\]$//')
  [ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$log" | tail -1)
  printf '%s' "$reason" | cut -c1-400
}

step() {
  local name=$1 rc slug log
  shift
  slug=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '-')
  mkdir -p "${STEP_LOG_DIR:-artifacts/logs}"
  log="${STEP_LOG_DIR:-artifacts/logs}/$slug.log"
  "$@" >"$log" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "${0##*/}: step '$name' failed: $(step_reason "$log") (exit status $rc; full output: $log)" >&2
  fi
  return "$rc"
}

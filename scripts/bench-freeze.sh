#!/usr/bin/env bash
# The freeze check performance bar (issue #5): `vios freeze check` against
# `git diff --name-status` on a 5,000-file tree with 50 changes, process
# start included, must be at most 1.5x git. startfloor, an empty program
# that only links go-git and sigstore, shows what start-up alone costs: the
# check's own work (vios freeze check minus vios --help) comes on top.
#
# One commit adds 5,000 evidence files in 50 day shards to a repository made
# by `vios init` (baseline v1.0 tag and manifest), the next edits one file
# per shard: 50 changes, all canonical-evidence violations. The repository
# is packed (git gc). Both tools compare the two commits; runs are
# interleaved (a busy machine slows both alike) and the median and the best
# of FREEZE_RUNS (default 30) are printed, with `vios --help` as the cost of
# process start alone. Exit 1 when the median ratio is above the bar and
# FREEZE_ENFORCE=1.
# Usage: scripts/bench-freeze.sh   (VIOS=path/to/vios to time another build)
set -euo pipefail
cd "$(dirname "$0")/.."
vios=${VIOS:-./bin/vios}
[ -x "$vios" ] || CGO_ENABLED=0 go build -o "$vios" ./cmd/vios # as make build does
runs=${FREEZE_RUNS:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
floor="$work/startfloor"
CGO_ENABLED=0 go build -o "$floor" ./scripts/startfloor
export GIT_CONFIG_NOSYSTEM=1 HOME="$work/home"
mkdir -p "$HOME"

echo "== freeze check: git diff --name-status vs vios freeze check (5,000 files, 50 changes)"
fk="$work/freeze-keys"
fr="$work/freeze"
"$vios" keys generate --keys "$fk" >/dev/null
"$vios" init "$fr" --keys "$fk" --now 2026-11-01T00:00:00Z >/dev/null
for s in $(seq -w 1 50); do
  d="$fr/05_GOVERNANCE/CYCLE_EVIDENCE/2026/11/$s"
  mkdir -p "$d"
  for i in $(seq -w 1 100); do echo "{\"cycle\": \"$s$i\"}" >"$d/CYCLE_00000000000$s$i.json"; done
done
gitq() { git -C "$fr" -c user.name=bench -c user.email=bench@example.com -c commit.gpgsign=false "$@"; }
gitq add -A
gitq commit -q -m "5,000 evidence files"
for s in $(seq -w 1 50); do echo '{"edited": true}' >"$fr/05_GOVERNANCE/CYCLE_EVIDENCE/2026/11/$s/CYCLE_00000000000${s}007.json"; done
gitq commit -q -am "50 edits"
gitq gc -q

n_git=$(git -C "$fr" diff --name-status HEAD~1 HEAD | wc -l)
n_vios=$("$vios" freeze check --repo "$fr" --baseline HEAD~1 --head HEAD -o json 2>/dev/null | grep -c '"change":' || true)
if [ "$n_git" != 50 ] || [ "$n_vios" != 50 ]; then
  echo "   expected 50 changes from both, got git $n_git, vios $n_vios" >&2
  exit 1
fi

ms() { # wall time of one run of a command, in ms ($EPOCHREALTIME: no clock process in the timing)
  local s e
  s=$EPOCHREALTIME
  "$@" >/dev/null 2>&1 || true
  e=$EPOCHREALTIME
  awk -v s="${s/,/.}" -v e="${e/,/.}" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }'
}
stats() { # median and best of the numbers in a file
  sort -n "$1" | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f\n", m, v[1] }'
}
# Warm the page cache and the binaries first.
for _ in 1 2 3; do
  git -C "$fr" diff --name-status HEAD~1 HEAD >/dev/null
  "$vios" freeze check --repo "$fr" --baseline HEAD~1 --head HEAD >/dev/null 2>&1 || true
done
: >"$work/git.ms" && : >"$work/vios.ms" && : >"$work/start.ms" && : >"$work/floor.ms"
for ((k = 0; k < runs; k++)); do
  ms git -C "$fr" diff --name-status HEAD~1 HEAD >>"$work/git.ms"
  ms "$vios" freeze check --repo "$fr" --baseline HEAD~1 --head HEAD >>"$work/vios.ms"
  ms "$vios" --help >>"$work/start.ms"
  ms "$floor" >>"$work/floor.ms"
done
read -r git_med git_best < <(stats "$work/git.ms")
read -r vios_med vios_best < <(stats "$work/vios.ms")
read -r start_med start_best < <(stats "$work/start.ms")
read -r floor_med floor_best < <(stats "$work/floor.ms")
echo "   $runs runs each, median (best) in ms:"
echo "   git diff --name-status: $git_med ($git_best), $n_git paths"
echo "   vios freeze check:      $vios_med ($vios_best), $n_vios violations"
echo "   vios --help:            $start_med ($start_best), process start alone"
echo "   startfloor:             $floor_med ($floor_best), an empty program linking go-git and sigstore"
awk -v v="$vios_med" -v g="$git_med" -v vb="$vios_best" -v gb="$git_best" -v s="$start_med" -v f="$floor_med" 'BEGIN {
  printf "   ratio vios/git: %.2fx median, %.2fx best (bar: <= 1.5x); without vios process start: %.2fx\n", v / g, vb / gb, (v - s) / g
  printf "   floor/git: %.2fx: the start-up of the mandated libraries alone, before any work\n", f / g
}'
if [ "${FREEZE_ENFORCE:-0}" = 1 ]; then
  awk -v v="$vios_med" -v g="$git_med" 'BEGIN { exit !(v / g <= 1.5) }' || { echo "   above the 1.5x bar" >&2; exit 1; }
fi

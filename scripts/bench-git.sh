#!/usr/bin/env bash
# Runs the same work through vios and through the git CLI and prints the
# ratios that `make bench` reports:
#   - signed commits/s: vios (BenchmarkSignedCommit, from .bench.txt) vs
#     `git add` + `git commit -S` (SSH signing) of the same cycle artifacts;
#   - audit: `vios audit verify` vs `git log --show-signature` over one
#     history, in commits/s and signatures/s, against the machine's 2-core
#     Ed25519 verify ceiling (BenchmarkEd25519Verify).
# Usage: scripts/bench-git.sh [DAYS]   (default 7 days = 168 hourly cycles)
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-7}
vios=${VIOS:-./bin/vios}
[ -x "$vios" ] || go build -o "$vios" ./cmd/vios
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# git runs with a HOME of its own (no user config); go keeps its caches.
GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE) GOPATH=$(go env GOPATH)
export GOMODCACHE GOCACHE GOPATH
export GIT_CONFIG_NOSYSTEM=1 HOME="$work/home"
mkdir -p "$HOME"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.1f", n / (e - s) }'; }

echo "== history: vios demo, $days day(s) of hourly cycles"
"$vios" demo --dir "$work/demo" --days "$days" -o json >"$work/demo.json" 2>/dev/null
repo="$work/demo/governance"
commits=$(git -C "$repo" rev-list --count HEAD)
echo "   $commits commits in $repo"

echo "== signed commits: git CLI (git add + git commit -S, SSH signature)"
ssh-keygen -q -t ed25519 -N '' -f "$work/code" -C code@vision-ios.agents
g="$work/gitcli"
git init -q -b main "$g"
git -C "$g" config user.name CODE
git -C "$g" config user.email code@vision-ios.agents
git -C "$g" config gpg.format ssh
git -C "$g" config user.signingkey "$work/code"
git -C "$g" config commit.gpgsign true
# Export each demo commit's files first so only git's own work is timed.
mapfile -t revs < <(git -C "$repo" rev-list --reverse HEAD)
i=0
for rev in "${revs[@]}"; do
  d="$work/export/$i"
  mkdir -p "$d"
  git -C "$repo" diff-tree --root --no-commit-id --name-only -r "$rev" >"$d/.files"
  while read -r f; do
    mkdir -p "$d/$(dirname "$f")"
    git -C "$repo" show "$rev:$f" >"$d/$f"
  done <"$d/.files"
  i=$((i + 1))
done
start=$(now)
for ((j = 0; j < i; j++)); do
  d="$work/export/$j"
  (cd "$d" && tar cf - --exclude=.files .) | (cd "$g" && tar xf -)
  git -C "$g" add -A
  git -C "$g" commit -q -m "artifact $j"
done
end=$(now)
git_commit_rate=$(rate "$i" "$start" "$end")
echo "   git: $git_commit_rate signed commits/s"

vios_commit_rate=""
if [ -f .bench.txt ]; then
  vios_commit_rate=$(awk '/^BenchmarkSignedCommit/ { for (k = 1; k <= NF; k++) if ($(k+1) == "commits/s") print $k }' .bench.txt | tail -1)
  ceiling=$(awk '/^BenchmarkEd25519Verify/ { print 1e9 / $3 }' .bench.txt | tail -1)
fi
if [ -n "$vios_commit_rate" ]; then
  echo "   vios: $vios_commit_rate signed commits/s (BenchmarkSignedCommit)"
  awk -v v="$vios_commit_rate" -v g="$git_commit_rate" 'BEGIN { printf "   ratio vios/git: %.1fx\n", v / g }'
fi

echo "== audit: git log --show-signature vs vios audit verify ($commits commits)"
start=$(now)
git -C "$repo" -c gpg.ssh.allowedSignersFile=policies/keys/allowed_signers log --show-signature >/dev/null 2>&1
end=$(now)
git_log_rate=$(rate "$commits" "$start" "$end")
echo "   git log --show-signature: $git_log_rate commits/s"
start=$(now)
"$vios" audit verify --repo "$repo" -o json >"$work/audit.json"
end=$(now)
read -r vc vs < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["commits_checked"], r["commit_signatures_verified"]+r["operation_signatures_verified"])' "$work/audit.json" 2>/dev/null ||
  awk -F'[:,]' '/"commits_checked"/ {c=$2} /"commit_signatures_verified"/ {s+=$2} /"operation_signatures_verified"/ {s+=$2} END {print c+0, s+0}' "$work/audit.json")
vios_audit_rate=$(rate "$vc" "$start" "$end")
vios_sig_rate=$(rate "$vs" "$start" "$end")
echo "   vios audit verify (process start included): $vios_audit_rate commits/s, $vios_sig_rate signatures/s"
awk -v v="$vios_audit_rate" -v g="$git_log_rate" 'BEGIN { printf "   ratio vios/git: %.1fx\n", v / g }'
if [ -n "${ceiling:-}" ]; then
  awk -v s="$vios_sig_rate" -v c="$ceiling" 'BEGIN { printf "   Ed25519 ceiling (2 cores): %.0f verifies/s; vios reaches %.1f%% of it\n", c, 100 * s / c }'
fi
# The same history audited in-process (BenchmarkAuditVerify), without the
# start-up of a process that runs for a few tens of milliseconds.
line=$(VIOS_BENCH_AUDIT_REPO="$repo" go test -run='^$' -bench='AuditVerify' -benchtime=30x -count=1 ./internal/audit/ | grep '^BenchmarkAuditVerify')
read -r ic is ip ie < <(awk '{ for (k = 1; k <= NF; k++) { if ($(k+1) == "commits/s") c = $k; if ($(k+1) == "sigs/s") s = $k; if ($(k+1) == "%ed25519") p = $k; if ($(k+1) == "ed25519/s") e = $k } } END { print c, s, p, e }' <<<"$line")
echo "   vios audit verify (in-process, BenchmarkAuditVerify): $ic commits/s, $is signatures/s"
awk -v v="$ic" -v g="$git_log_rate" 'BEGIN { printf "   ratio vios/git: %.1fx (bar: >= 100x)\n", v / g }'
# The benchmark measures the stdlib Ed25519 rate just before and after the
# audit, so both sides of this ratio see the machine alike.
echo "   vios reaches $ip% of the Ed25519 ceiling measured around it, $ie verifies/s (bar: >= 70%)"
# The freeze check against git diff --name-status: scripts/bench-freeze.sh.

#!/usr/bin/env bash
# Reversals (issue #12): reversals per second against `payimport sandbox` without a rate limit,
# and requests per reversal on a clean run. Each run: a fresh sandbox and ledger, N payments
# imported (two per loan), then a return file naming each of them; only the return import is
# timed. Usage: bash benches/returns.sh [RUNS] [N]   (default 5 runs, 2000 returns)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
N=${2:-2000}
cargo build --release --quiet --bin payimport
BIN=$PWD/target/release/payimport
W=$(mktemp -d /tmp/payimport-returns.XXXXXX)
PORT=18181
SANDBOX_PID=
trap '[ -n "$SANDBOX_PID" ] && kill $SANDBOX_PID 2>/dev/null; rm -rf "$W"' EXIT
cat > "$W/payimport.toml" <<EOT
[loanpro]
base_url = "http://127.0.0.1:$PORT/api/public/api/1"
tenant_id = "5200243"
token_env = "LOANPRO_TOKEN"
[ledger]
path = "ledger.sqlite"
[limits]
requests_per_second = 1000000
concurrency = 16
settle_secs = 1
min_file_age_secs = 0
[payments]
payment_methods = { 3 = "Card", 4 = "Check", 5 = "ACH" }
payment_types = { 1 = "Regular", 2 = "Payoff" }
extra = ["payment.extra.tx.principal"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"
[sources.csv]
format = "csv"
[sources.returns]
format = "csv"
kind = "returns"
EOT
{
  echo "loan,amount,date,reference"
  for i in $(seq 0 $((N - 1))); do echo "$((1 + i % 1000)),$((10 + i / 1000)).$((i % 100)),2026-11-10,P$i"; done
} > "$W/payments.csv"
{
  echo "loan,amount,date,return_code"
  for i in $(seq 0 $((N - 1))); do echo "$((1 + i % 1000)),$((10 + i / 1000)).$((i % 100)),2026-11-24,R01"; done
} > "$W/returns.csv"
export LOANPRO_TOKEN=sandbox-token
stats() { curl -s "http://127.0.0.1:$PORT/__sandbox/stats"; }
for run in $(seq 1 "$RUNS"); do
  rm -f "$W"/ledger.sqlite*
  "$BIN" --settings "$W/payimport.toml" sandbox --listen "127.0.0.1:$PORT" --loans 1000 >/dev/null 2>&1 &
  SANDBOX_PID=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/__sandbox/stats" && break; sleep 0.1; done
  "$BIN" -q --settings "$W/payimport.toml" import --source csv "$W/payments.csv" >/dev/null
  before=$(stats)
  start=$(date +%s.%N)
  "$BIN" -q --settings "$W/payimport.toml" import --source returns "$W/returns.csv" >/dev/null
  end=$(date +%s.%N)
  after=$(stats)
  python3 - "$before" "$after" "$start" "$end" "$N" <<'PY'
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
secs, n = float(sys.argv[4]) - float(sys.argv[3]), int(sys.argv[5])
gets, posts, rev = a["gets"] - b["gets"], a["posts"] - b["posts"], a["reversals"] - b["reversals"]
print(f"{n} returns in {secs:.2f} s = {n / secs:.0f} reversals/s; reversed {rev}; "
      f"requests: {gets} GET + {posts} POST = {(gets + posts) / n:.2f} per reversal")
PY
  kill $SANDBOX_PID; wait $SANDBOX_PID 2>/dev/null || true; SANDBOX_PID=
done

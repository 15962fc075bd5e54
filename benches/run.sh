#!/usr/bin/env bash
# Whole-process benchmarks of payimport (issue #6). Prints one line per measurement; the medians
# go into BENCHMARKS.md. Usage: bash benches/run.sh [RUNS]   (default 5 runs per measurement);
# ONLY=camt bash benches/run.sh [RUNS] runs section 10 (camt.053 against BAI2) alone.
# Needs: /usr/bin/time (GNU time), curl; optional: wrk (apt-get install wrk) for the HTTP baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
cargo build --release --quiet --features test-hooks --bin payimport --example gen
BIN=$PWD/target/release/payimport
GEN=$PWD/target/release/examples/gen
W=$(mktemp -d /tmp/payimport-bench.XXXXXX)
PORT=${PORT:-18080}  # PORT=... when another sandbox holds 18080
SANDBOX_PID=
trap '[ -n "$SANDBOX_PID" ] && kill $SANDBOX_PID 2>/dev/null; rm -rf "$W"' EXIT

settings() { # settings RPS CONCURRENCY
  cat > "$W/payimport.toml" <<EOT
[loanpro]
base_url = "http://127.0.0.1:$PORT/api/public/api/1"
tenant_id = "5200243"
token_env = "LOANPRO_TOKEN"
timeout_secs = 30
[ledger]
path = "ledger.sqlite"
[limits]
requests_per_second = $1
concurrency = $2
max_attempts = 5
min_file_age_secs = 0
settle_secs = 1
[payments]
payment_methods = { 3 = "Card", 4 = "Check", 5 = "ACH" }
payment_types = { 1 = "Regular", 2 = "Payoff" }
extra = ["payment.extra.tx.principal"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"
[sources.csv]
format = "csv"
EOT
}

sandbox() { # sandbox [EXTRA ARGS...]
  [ -n "$SANDBOX_PID" ] && kill $SANDBOX_PID 2>/dev/null && wait $SANDBOX_PID 2>/dev/null || true
  "$BIN" sandbox --listen 127.0.0.1:$PORT --loans 1000 "$@" > "$W/sandbox.log" 2>&1 &
  SANDBOX_PID=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/__sandbox/stats" >/dev/null && return; sleep 0.1; done
  echo "sandbox did not start" >&2; exit 1
}

# measure LABEL CMD...: wall seconds and peak RSS (KB) of one run, appended to $W/LABEL
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/time" "$@" > /dev/null 2>"$W/stderr" || { [ $? -le 1 ] || [ "${ALLOW_KILL:-}" = 1 ] || { cat "$W/stderr" >&2; exit 1; }; }
  cat "$W/time" | tail -1 >> "$W/$label"
}

median() { # median LABEL -> "wall_s rss_mb"
  sort -n "$W/$1" | awk '{w[NR]=$1; r[NR]=$2} END {m=int((NR+1)/2); printf "%.3f s  %.1f MB", w[m], r[m]/1024}'
}

export LOANPRO_TOKEN=sandbox-token
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r)"
if [ "${ONLY:-}" != camt ]; then  # ONLY=camt bash benches/run.sh: section 10 alone
"$GEN" --format csv --rows 1000000 --out "$W/1m.csv"
"$GEN" --format csv --rows 100000 --out "$W/100k.csv"
"$GEN" --format csv --rows 20000 --seed 2 --out "$W/20k.csv"
"$GEN" --format csv --rows 1500 --seed 3 --out "$W/1500.csv"
settings 1000000 16

# 1. dry run of 1,000,000 rows
for _ in $(seq "$RUNS"); do measure dry "$BIN" --settings "$W/payimport.toml" -q import --dry-run "$W/1m.csv"; done
echo "dry-run 1M rows: $(median dry)"

# 2. staging 1,000,000 rows: the process kills itself right after staging (crash point)
for _ in $(seq "$RUNS"); do
  rm -f "$W"/ledger.sqlite*
  ALLOW_KILL=1 PAYIMPORT_CRASH_AT=staged measure stage "$BIN" --settings "$W/payimport.toml" -q import "$W/1m.csv"
done
echo "staging 1M rows: $(median stage)  -> $(sort -n "$W/stage" | awk '{w[NR]=$1} END {printf "%.0f rows/s", 1000000/w[int((NR+1)/2)]}')"

# 3. end to end, 20,000 rows, no rate limit
sandbox
for _ in $(seq "$RUNS"); do
  rm -f "$W"/ledger.sqlite*
  measure e2e "$BIN" --settings "$W/payimport.toml" -q import "$W/20k.csv"
done
echo "end to end 20k rows: $(median e2e)  -> $(sort -n "$W/e2e" | awk '{w[NR]=$1} END {printf "%.0f rows/s", 20000/w[int((NR+1)/2)]}')"
if command -v wrk >/dev/null; then
  cat > "$W/put.lua" <<'EOT'
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer sandbox-token"
wrk.headers["Autopal-Instance-Id"] = "5200243"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"Payments":{"results":[{"selectedProcessor":"0","paymentMethodId":4,"early":0,"amount":"250.00","date":"2026-11-20","info":"wrk [k:0000000000000000]","paymentTypeId":1,"active":1,"resetPastDue":0,"payoffPayment":false,"_saveProfile":0,"extra":"payment.extra.tx.principal","cardFeeType":"loan.cardfee.types.1","cardFeeAmount":"0","cardFeePercent":"0","__logOnly":true,"payoffFlag":0}]}}'
EOT
  for _ in $(seq "$RUNS"); do
    wrk -t2 -c16 -d5s -s "$W/put.lua" "http://127.0.0.1:$PORT/api/public/api/1/odata.svc/Loans(7)" | awk '/Requests\/sec/{print $2}' >> "$W/wrk"
  done
  echo "wrk baseline (same PUTs, 16 connections): $(sort -n "$W/wrk" | awk '{w[NR]=$1} END {printf "%.0f req/s", w[int((NR+1)/2)]}')"
fi

# 4. rerun of a fully posted 1,000,000-row file: zero requests
rm -f "$W"/ledger.sqlite*
sandbox
measure mem1m "$BIN" --settings "$W/payimport.toml" -q import "$W/1m.csv"
echo "import 1M rows against the sandbox (one run): $(median mem1m)  -> $(awk '{printf "%.0f rows/s", 1000000/$1}' "$W/mem1m")"
before=$(curl -s "http://127.0.0.1:$PORT/__sandbox/stats")
for _ in $(seq "$RUNS"); do measure rerun "$BIN" --settings "$W/payimport.toml" -q import "$W/1m.csv"; done
after=$(curl -s "http://127.0.0.1:$PORT/__sandbox/stats")
echo "rerun of a posted 1M-row file: $(median rerun)  (sandbox stats before: $before, after: $after)"

# 5. memory: peak RSS of a real import of 1,000,000 vs 100,000 rows (fresh ledgers, against the sandbox)
for n in 100k; do
  for _ in $(seq 3); do rm -f "$W"/ledger.sqlite*; sandbox; measure "mem$n" "$BIN" --settings "$W/payimport.toml" -q import "$W/$n.csv"; done
  echo "import $n rows: $(median "mem$n")"
done
echo "memory ratio 1M/100k: $(paste "$W/mem1m" <(sort -n "$W/mem100k" | sed -n 2p) | awk '{printf "%.2f", $2/$4}')"

# 6. rate fidelity: 50 requests/s against a sandbox enforcing 50/s, 1500 rows
settings 50 4
rm -f "$W"/ledger.sqlite*
sandbox --rps 50
start=$(date +%s.%N)
"$BIN" --settings "$W/payimport.toml" -q import "$W/1500.csv" > /dev/null
end=$(date +%s.%N)
stats=$(curl -s "http://127.0.0.1:$PORT/__sandbox/stats")
echo "rate fidelity: 1500 rows in $(echo "$end - $start" | bc) s -> $(echo "scale=2; 1500 / ($end - $start)" | bc) req/s; sandbox: $stats"

# 7. memory under hostile sizes (issue 20, SPEC §14: each under 150 MB): an import of 1,000,000
#    NACHA returns (none has a payment in the ledger, so every one goes through matching and
#    ends `unmatched`), and an import of a lockbox of 100,000 batches of one item each.
"$GEN" --format nacha --rows 1000000 --per-batch 999 --out "$W/1m-returns.ach"
"$GEN" --format lockbox --rows 100000 --per-batch 1 --out "$W/100k-batches.lbx"
settings 1000000 16
cat >> "$W/payimport.toml" <<EOT
[sources.ach_returns]
format = "nacha"
loan = "id"
[sources.lockbox]
format = "lockbox"
loan = "display_id"
EOT
mem_case() { # mem_case LABEL SOURCE FILE: three fresh imports, the median
  for _ in $(seq 3); do
    rm -f "$W"/ledger.sqlite*
    measure "$1" "$BIN" --settings "$W/payimport.toml" -q import --source "$2" "$W/$3"
  done
}
mem_case nacha1m ach_returns 1m-returns.ach
echo "import of 1,000,000 NACHA returns (matching included): $(median nacha1m)"
# The page of that ledger: 1,000,000 unmatched returns, every list cut at 1,000 rows.
measure html_unmatched "$BIN" --settings "$W/payimport.toml" report --format html --output "$W/unmatched.html"
echo "report --format html of 1,000,000 unmatched returns: $(median html_unmatched), page $(stat -c %s "$W/unmatched.html") bytes"
# And of 1,000,000 rejected rows (every amount has three decimals), staged only.
awk -F, 'NR == 1 { print; next } { print $1 ",12.345," $3 "," $4 }' "$W/1m.csv" > "$W/1m-rejected.csv"
rm -f "$W"/ledger.sqlite*
ALLOW_KILL=1 PAYIMPORT_CRASH_AT=staged measure stage_rejected "$BIN" --settings "$W/payimport.toml" -q import --source csv "$W/1m-rejected.csv"
measure html_rejected "$BIN" --settings "$W/payimport.toml" report --format html --output "$W/rejected.html"
echo "report --format html of 1,000,000 rejected rows: $(median html_rejected), page $(stat -c %s "$W/rejected.html") bytes"
sandbox
mem_case lockbox100k lockbox 100k-batches.lbx
echo "import of a lockbox of 100,000 batches: $(median lockbox100k)"

# 8. the tie-out report of a 1,000,000-row night (issue 21, docs/report.md): 1,000,000 rows
#    staged (the process stops itself right after staging), then the page, the tie-out table
#    and the row export, each with its peak RSS.
settings 1000000 16
rm -f "$W"/ledger.sqlite*
ALLOW_KILL=1 PAYIMPORT_CRASH_AT=staged measure night1m "$BIN" --settings "$W/payimport.toml" -q import "$W/1m.csv"
for _ in $(seq "$RUNS"); do measure tie_html "$BIN" --settings "$W/payimport.toml" report --format html --output "$W/night.html"; done
echo "report --format html of a 1M-row night: $(median tie_html), page $(stat -c %s "$W/night.html") bytes"
for _ in $(seq "$RUNS"); do measure tie_csv "$BIN" --settings "$W/payimport.toml" report --format csv --by file; done
echo "report --format csv --by file of a 1M-row night: $(median tie_csv)"

# 9. reconcile over 1,000 loans against a sandbox enforcing 50 requests/s: about 1,000 / 50 s
settings 50 4
rm -f "$W"/ledger.sqlite*
sandbox --rps 50
# one payment on each of loans 1..1000
awk 'BEGIN { print "loan,amount,date,reference"; for (i = 1; i <= 1000; i++) printf "%d,%d.00,2026-11-20,r%d\n", i, 10 + i % 90, i }' > "$W/1000.csv"
"$BIN" --settings "$W/payimport.toml" -q import "$W/1000.csv" > /dev/null
loans=$(sqlite3 "$W/ledger.sqlite" "SELECT COUNT(DISTINCT loan_id) FROM rows WHERE status = 'posted'" 2>/dev/null || echo "?")
for _ in $(seq "$RUNS"); do measure recon1000 "$BIN" --settings "$W/payimport.toml" -q reconcile; done
echo "reconcile over $loans loans at 50 requests/s: $(median recon1000) (1,000 / 50 = 20 s expected)"
fi

# 10. camt.053 against BAI2 of the same size (issue 23): 1,000,000 entries / 16 records each,
#    dry run (RUNS times) and one import against the sandbox, wall time and peak RSS
settings 1000000 16
cat >> "$W/payimport.toml" <<'EOT'
[sources.bai2]
format = "bai2"
loan = "id"
type_codes = [165]
[sources.camt]
format = "camt"
loan = "id"
EOT
"$GEN" --format bai2 --rows 1000000 --out "$W/1m.bai"
"$GEN" --format camt --rows 1000000 --out "$W/1m.xml"
echo "files: BAI2 $(du -m "$W/1m.bai" | cut -f1) MB, camt $(du -m "$W/1m.xml" | cut -f1) MB"
for fmt in bai2 camt; do
  file=$W/1m.bai; [ $fmt = camt ] && file=$W/1m.xml
  for _ in $(seq "$RUNS"); do measure "dry_$fmt" "$BIN" --settings "$W/payimport.toml" -q import --source $fmt --dry-run "$file"; done
  echo "dry-run 1M $fmt entries: $(median "dry_$fmt")"
done
for fmt in bai2 camt; do
  file=$W/1m.bai; [ $fmt = camt ] && file=$W/1m.xml
  rm -f "$W"/ledger.sqlite*
  sandbox
  measure "import_$fmt" "$BIN" --settings "$W/payimport.toml" -q import --source $fmt "$file"
  echo "import 1M $fmt entries against the sandbox (one run): $(median "import_$fmt")"
done

#!/usr/bin/env bash
# The cost of holding possible duplicates (issue 19 item 3, SPEC §12) on the 1M-row staging
# figure of benches/run.sh: staging 1,000,000 CSV rows with `[payments] duplicates = "hold"`
# (one seek in rows_posted_by_loan per payment) and with "post" (no check), run alternately so
# that a busy machine slows both alike. Two ledgers: a fresh one (as run.sh stages), and one
# already holding 1,000,000 posted payments of an earlier file (the seek finds something, and
# many rows of the same loans, amounts and dates are held). Needs python3 (its sqlite3 module).
# Usage: bash benches/duplicates.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
# The crash point that ends each run after staging is a test hook: built in here.
cargo build --release --quiet --features test-hooks --bin payimport --example gen
BIN=$PWD/target/release/payimport
GEN=$PWD/target/release/examples/gen
W=$(mktemp -d /tmp/payimport-dups.XXXXXX)
trap 'rm -rf "$W"' EXIT

settings() { # settings hold|post
  cat > "$W/payimport.toml" <<EOT
[loanpro]
base_url = "http://127.0.0.1:9/api/public/api/1"
tenant_id = "5200243"
token_env = "LOANPRO_TOKEN"
[ledger]
path = "ledger.sqlite"
verify = "never"
[limits]
min_file_age_secs = 0
[payments]
payment_methods = { 3 = "Card", 4 = "Check", 5 = "ACH" }
payment_types = { 1 = "Regular", 2 = "Payoff" }
extra = ["payment.extra.tx.principal"]
default_payment_method_id = 4
default_payment_type_id = 1
default_extra = "payment.extra.tx.principal"
duplicates = "$1"
[sources.csv]
format = "csv"
EOT
}

measure() { # measure LABEL: stage 1m.csv, killed right after staging (crash point)
  /usr/bin/time -f "%e" -o "$W/time" env PAYIMPORT_CRASH_AT=staged "$BIN" --settings "$W/payimport.toml" -q import "$W/1m.csv" > /dev/null 2>"$W/stderr" || true
  tail -1 "$W/time" >> "$W/$1"
}

median() { sort -n "$W/$1" | awk '{w[NR]=$1} END {printf "%.2f s", w[int((NR+1)/2)]}'; }

export LOANPRO_TOKEN=sandbox-token
"$GEN" --format csv --rows 1000000 --out "$W/1m.csv"
"$GEN" --format csv --rows 1000000 --seed 7 --out "$W/prior.csv"
settings post
PAYIMPORT_CRASH_AT=staged "$BIN" --settings "$W/payimport.toml" -q import "$W/prior.csv" > /dev/null 2>&1 || true
python3 - "$W/ledger.sqlite" <<'EOT'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE rows SET status = 'posted' WHERE status = 'pending'")
c.execute("UPDATE runs SET ended_at = started_at, outcome = 'completed'")
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.close()
EOT
mv "$W/ledger.sqlite" "$W/prior.sqlite"; rm -f "$W"/ledger.sqlite-*

for _ in $(seq "$RUNS"); do
  for mode in hold post; do
    settings "$mode"
    rm -f "$W"/ledger.sqlite*; measure "fresh-$mode"
    rm -f "$W"/ledger.sqlite*; cp "$W/prior.sqlite" "$W/ledger.sqlite"; measure "prior-$mode"
  done
done
for v in fresh prior; do
  echo "staging 1M rows, $v ledger: hold $(median "$v-hold"), post $(median "$v-post")  (runs: hold $(tr '\n' ' ' < "$W/$v-hold")/ post $(tr '\n' ' ' < "$W/$v-post"))"
done

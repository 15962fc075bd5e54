//! Generates realistic bank payment files of any size, for benchmarks and manual tests.
//!
//! `cargo run --release --example gen -- --format csv|lockbox|bai2|nacha|camt --rows N
//! [--loans 1000] [--per-batch 100] [--seed 1] [--out PATH]` writes to PATH (default stdout).
//! Every file is valid, control totals included, and rows are distinct payments (distinct
//! references); a `nacha` file holds N returns (R01), `--per-batch` of them to a batch, and a
//! lockbox file `--per-batch` items to a batch (1 for a file of N batches).

use std::io::{BufWriter, Write};

struct Args {
    format: String,
    rows: u64,
    loans: u64,
    seed: u64,
    per_batch: u64,
    out: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        format: "csv".into(),
        rows: 1000,
        loans: 1000,
        seed: 1,
        per_batch: 100,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--format" => a.format = value()?,
            "--rows" => a.rows = value()?.parse().map_err(|e| format!("--rows: {e}"))?,
            "--loans" => a.loans = value()?.parse().map_err(|e| format!("--loans: {e}"))?,
            "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--out" => a.out = Some(value()?),
            "--per-batch" => {
                a.per_batch = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=999).contains(n))
                    .ok_or("--per-batch: give 1 to 999")?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// A small deterministic generator (xorshift64*), so the same seed gives the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One payment: loan, amount in cents, day of November 2026.
struct Payment {
    loan: u64,
    cents: u64,
    day: u64,
}

fn payment(rng: &mut Rng, loans: u64) -> Payment {
    Payment {
        loan: 1 + rng.below(loans),
        cents: 1_000 + rng.below(250_000),
        day: 1 + rng.below(20),
    }
}

fn csv(out: &mut impl Write, a: &Args, rng: &mut Rng) -> std::io::Result<()> {
    writeln!(out, "loan,amount,date,reference")?;
    for i in 0..a.rows {
        let p = payment(rng, a.loans);
        let amount = format!("{}.{:02}", p.cents / 100, p.cents % 100);
        // Some rows the way spreadsheets and banks write them: grouped, with a currency sign.
        let amount = if i % 7 == 0 && p.cents >= 100_000 {
            format!(
                "\"${},{:03}.{:02}\"",
                p.cents / 100_000,
                (p.cents / 100) % 1000,
                p.cents % 100
            )
        } else {
            amount
        };
        writeln!(
            out,
            "{},{amount},2026-11-{:02},{}",
            p.loan,
            p.day,
            100_000_000 + i
        )?;
    }
    Ok(())
}

fn lockbox(out: &mut impl Write, a: &Args, rng: &mut Rng) -> std::io::Result<()> {
    let mut records = 0u64;
    let mut line = |out: &mut dyn Write, text: String| -> std::io::Result<()> {
        records += 1;
        writeln!(out, "{text:<80}")
    };
    line(out, "101021000021009876543212611200615".into())?;
    line(out, "202100002100987654321LBX   0001261120080".into())?;
    let per_batch = a.per_batch;
    let per_lockbox = 50 * per_batch;
    let mut done = 0u64;
    let mut lockbox = 1_000_000u64;
    while done < a.rows {
        lockbox += 1;
        line(out, format!("5001   {lockbox}261120"))?;
        let (mut lb_items, mut lb_cents) = (0u64, 0u64);
        let mut batch = 0u64;
        while done < a.rows && lb_items < per_lockbox {
            batch += 1;
            let (mut items, mut cents) = (0u64, 0u64);
            while done < a.rows && items < per_batch {
                items += 1;
                done += 1;
                let p = payment(rng, a.loans);
                cents += p.cents;
                line(
                    out,
                    format!(
                        "6{batch:03}{items:03}{:010}021000021{:<10}{:>10}{:06}{:<30}",
                        p.cents, 4455667788u64, done, 111426, "REMITTER"
                    ),
                )?;
                line(out, format!("4{batch:03}{items:03}4019LN{:06}", p.loan))?;
            }
            line(
                out,
                format!("7{batch:03}   {lockbox}      {items:03}{cents:010}"),
            )?;
            lb_items += items;
            lb_cents += cents;
        }
        line(
            out,
            format!("8000   {lockbox}      {lb_items:04}{lb_cents:010}"),
        )?;
    }
    records += 1;
    writeln!(out, "{:<80}", format!("9{records:06}"))
}

fn bai2(out: &mut impl Write, a: &Args, rng: &mut Rng) -> std::io::Result<()> {
    writeln!(out, "01,122099999,123456789,261120,0200,1,,,2/")?;
    writeln!(out, "02,031001234,122099999,1,261119,2359,USD,2/")?;
    let per_account = 10_000u64;
    let (mut group_cents, mut group_records, mut accounts) = (0u64, 1u64, 0u64);
    let mut done = 0u64;
    while done < a.rows {
        accounts += 1;
        writeln!(out, "03,{:09},USD,010,0,,/", 100_000_000 + accounts)?;
        let (mut cents, mut records) = (0u64, 1u64);
        let mut n = 0;
        while done < a.rows && n < per_account {
            n += 1;
            done += 1;
            let p = payment(rng, a.loans);
            cents += p.cents;
            records += 1;
            writeln!(
                out,
                "16,165,{},0,ACH{done:09},{},LOAN {} PAYMENT/",
                p.cents, p.loan, p.loan
            )?;
        }
        records += 1;
        writeln!(out, "49,{cents},{records}/")?;
        group_cents += cents;
        group_records += records;
    }
    group_records += 1;
    writeln!(out, "98,{group_cents},{accounts},{group_records}/")?;
    writeln!(out, "99,{group_cents},1,{}/", group_records + 2)
}

/// A camt.053.001.08 statement file: one `Stmt` per 10,000 entries, each with its own account
/// and its `TxsSummry`, pretty-printed as banks send them; every entry a booked credit with one
/// detail naming the loan in its structured creditor reference.
fn camt(out: &mut impl Write, a: &Args, rng: &mut Rng) -> std::io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>GEN-{}</MsgId>
      <CreDtTm>2026-11-21T06:00:00-05:00</CreDtTm>
    </GrpHdr>"#,
        a.seed
    )?;
    let per_statement = 10_000u64;
    let mut done = 0u64;
    let mut statement = 0u64;
    let mut entries = Vec::with_capacity(per_statement as usize);
    while done < a.rows {
        statement += 1;
        entries.clear();
        while done < a.rows && (entries.len() as u64) < per_statement {
            done += 1;
            entries.push((done, payment(rng, a.loans)));
        }
        let total: u64 = entries.iter().map(|(_, p)| p.cents).sum();
        writeln!(
            out,
            r#"    <Stmt>
      <Id>GEN-STMT-{statement}</Id>
      <CreDtTm>2026-11-21T06:00:00-05:00</CreDtTm>
      <Acct>
        <Id><Othr><Id>{:09}</Id></Othr></Id>
        <Ccy>USD</Ccy>
      </Acct>
      <TxsSummry>
        <TtlCdtNtries><NbOfNtries>{}</NbOfNtries><Sum>{}.{:02}</Sum></TtlCdtNtries>
      </TxsSummry>"#,
            100_000_000 + statement,
            entries.len(),
            total / 100,
            total % 100
        )?;
        for (n, p) in &entries {
            writeln!(
                out,
                r#"      <Ntry>
        <Amt Ccy="USD">{}.{:02}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-11-{:02}</Dt></BookgDt>
        <AcctSvcrRef>BANK{n:09}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ACDT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>E2E{n:09}</EndToEndId></Refs>
            <RmtInf><Strd><CdtrRefInf><Ref>{}</Ref></CdtrRefInf></Strd></RmtInf>
          </TxDtls>
        </NtryDtls>
      </Ntry>"#,
                p.cents / 100,
                p.cents % 100,
                p.day,
                p.loan
            )?;
        }
        writeln!(out, "    </Stmt>")?;
    }
    writeln!(out, "  </BkToCstmrStmt>\n</Document>")
}

/// A NACHA return file: `a.rows` returns (R01, each with its `99` addenda), `a.per_batch` to a
/// batch, control totals right.
fn nacha(out: &mut impl Write, a: &Args, rng: &mut Rng) -> std::io::Result<()> {
    let mut records = 0u64;
    let line = |out: &mut dyn Write, records: &mut u64, text: String| -> std::io::Result<()> {
        *records += 1;
        writeln!(out, "{text:<94}")
    };
    line(
        out,
        &mut records,
        "101 091000019 0910000192611240000A094101FIRST BANK             PAYIMPORT SERVICER     "
            .into(),
    )?;
    let (mut file_items, mut file_hash, mut file_debits, mut batches) = (0u64, 0u64, 0u64, 0u64);
    let mut done = 0u64;
    while done < a.rows {
        batches += 1;
        line(
            out,
            &mut records,
            format!(
                "5225PAYIMPORT                           1234567890PPDRETURNS         261124   1091000010{batches:06}"
            ),
        )?;
        let (mut items, mut hash, mut debits) = (0u64, 0u64, 0u64);
        let mut n = 0;
        while done < a.rows && n < a.per_batch {
            n += 1;
            done += 1;
            let p = payment(rng, a.loans);
            let routing = 9_100_001 + n;
            hash += routing;
            items += 2;
            debits += p.cents;
            let trace = format!("091000{done:09}");
            line(
                out,
                &mut records,
                format!(
                    "626{routing:08}1{:<17}{:010}{:<15}{:<22}  1{trace}",
                    format!("ACCT{done}"),
                    p.cents,
                    p.loan,
                    "BORROWER"
                ),
            )?;
            line(
                out,
                &mut records,
                format!(
                    "799R01091000{:09}      09100001{:44}{trace}",
                    done + 500_000_000,
                    ""
                ),
            )?;
        }
        line(
            out,
            &mut records,
            format!(
                "8225{items:06}{:010}{debits:012}{:012}1234567890{:25}091000010{batches:06}",
                hash % 10_000_000_000,
                0,
                ""
            ),
        )?;
        file_items += items;
        file_hash += hash;
        file_debits += debits;
    }
    let blocks = (records + 1).div_ceil(10);
    line(
        out,
        &mut records,
        format!(
            "9{batches:06}{blocks:06}{file_items:08}{:010}{file_debits:012}{:012}{:39}",
            file_hash % 10_000_000_000,
            0,
            ""
        ),
    )?;
    while !records.is_multiple_of(10) {
        line(out, &mut records, "9".repeat(94))?;
    }
    Ok(())
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gen: {e}");
            std::process::exit(2);
        }
    };
    let mut rng = Rng(a.seed.max(1));
    let sink: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(std::fs::File::create(p).expect("create output")),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let result = match a.format.as_str() {
        "csv" => csv(&mut out, &a, &mut rng),
        "lockbox" => lockbox(&mut out, &a, &mut rng),
        "bai2" => bai2(&mut out, &a, &mut rng),
        "nacha" => nacha(&mut out, &a, &mut rng),
        "camt" => camt(&mut out, &a, &mut rng),
        f => {
            eprintln!("gen: unknown format {f}; csv, lockbox, bai2, nacha or camt");
            std::process::exit(2);
        }
    };
    if let Err(e) = result.and_then(|_| out.flush()) {
        eprintln!("gen: {e}");
        std::process::exit(1);
    }
}

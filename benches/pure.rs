//! Criterion benchmarks of the pure parts: CSV reading with validation, keys, the payload.
//! `cargo bench --bench pure`. Whole-process figures come from `benches/run.sh`.

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use payimport::money::Cents;
use payimport::payment::{Key, PaymentBody};
use payimport::read::csv::CsvReader;
use payimport::settings::SourceFormat;
use payimport::testkit::{settings, today, valid_csv};
use payimport::validate::Validator;

const ROWS: usize = 10_000;

fn read_and_validate(c: &mut Criterion) {
    let settings = settings();
    let source = settings.source(Some("bank")).expect("source");
    let SourceFormat::Csv { columns, .. } = &source.format else {
        panic!("the bench source is csv");
    };
    let text = valid_csv(ROWS);
    let today = today();
    let mut group = c.benchmark_group("csv");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("read", |b| {
        b.iter(|| {
            let reader =
                CsvReader::new("bench.csv".into(), text.as_bytes(), columns, b',').expect("header");
            black_box(reader.count())
        })
    });
    group.bench_function("read_and_validate", |b| {
        b.iter(|| {
            let reader =
                CsvReader::new("bench.csv".into(), text.as_bytes(), columns, b',').expect("header");
            let mut validator = Validator::new(source, &settings.payments, today);
            let valid = reader
                .filter_map(Result::ok)
                .filter(|row| validator.validate(row).is_ok())
                .count();
            black_box(valid)
        })
    });
    group.finish();
}

fn key_and_payload(c: &mut Criterion) {
    let amount = Cents(123_450);
    let date = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    c.bench_function("key", |b| {
        b.iter(|| Key::of(black_box("12345"), amount, date, black_box("100042"), 0))
    });
    c.bench_function("payload_json", |b| {
        b.iter(|| {
            let body = PaymentBody::new(
                amount,
                "2026-11-20",
                "2026-11-20 bank 100042 [k:3f9a0c21d4e5b6a7]",
                4,
                1,
                "payment.extra.tx.principal",
            );
            black_box(serde_json::to_vec(&body).expect("json"))
        })
    });
}

criterion_group!(benches, read_and_validate, key_and_payload);
criterion_main!(benches);

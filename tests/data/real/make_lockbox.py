#!/usr/bin/env python3
"""Writes the lockbox files of this corpus (default layout of docs/formats.md), so that their columns
and totals are right by construction; the .expected files beside them are written by hand.

Run from this folder: python3 make_lockbox.py
"""


def col(line, start, value):
    """Puts value at 1-based column start, padding the line with blanks as needed."""
    line = line.ljust(start - 1)
    return line[: start - 1] + value + line[start - 1 + len(value):]


def header():
    return "1" + "021000089" + "9876543210" + "261130" + "0615"


def service():
    return "2" + "021000089" + "9876543210" + "LBX"


def lockbox(batch, number, date):
    r = col("5", 2, f"{batch:03}")
    r = col(r, 8, number)
    return col(r, 15, date)


def detail(batch, item, cents, check, remitter="A REMITTER"):
    r = col("6", 2, f"{batch:03}")
    r = col(r, 5, f"{item:03}")
    r = col(r, 8, f"{cents:010}")
    r = col(r, 18, "021000021")
    r = col(r, 27, "4455667788")
    r = col(r, 37, f"{check:>10}")
    r = col(r, 47, "112526")
    return col(r, 53, remitter)


def overflow(batch, item, loan, seq=1, last=9):
    r = col("4", 2, f"{batch:03}")
    r = col(r, 5, f"{item:03}")
    r = col(r, 8, "4")
    r = col(r, 9, f"{seq:02}")
    r = col(r, 11, str(last))
    return col(r, 12, loan)


def batch_total(batch, number, date, items, cents):
    r = col("7", 2, f"{batch:03}")
    r = col(r, 8, number)
    r = col(r, 15, date)
    r = col(r, 21, f"{items:03}")
    return col(r, 24, f"{cents:010}")


def lockbox_total(number, date, items, cents):
    r = col("8", 8, number)
    r = col(r, 15, date)
    r = col(r, 21, f"{items:04}")
    return col(r, 25, f"{cents:010}")


def write(name, records, pad=80, eol="\n", trailer=True):
    if trailer:
        records = records + [f"9{len(records) + 1:06}"]
    with open(name, "w", newline="") as f:
        for r in records:
            f.write((r.ljust(pad) if pad else r.rstrip()) + eol)


LB, D = "1234567", "261127"

# l01: the structure already supported: two batches, one with a two-record overflow chain.
write("l01_standard.lbx", [
    header(), service(), lockbox(1, LB, D),
    detail(1, 1, 25000, "10442"), overflow(1, 1, "LN000123"),
    detail(1, 2, 123450, "2087"), overflow(1, 2, "LN000456", 1, 0), overflow(1, 2, "INVOICE 77", 2, 9),
    batch_total(1, LB, D, 2, 148450),
    detail(2, 1, 9999, "778"), overflow(2, 1, "LN001000"),
    batch_total(2, LB, D, 1, 9999),
    lockbox_total(LB, D, 3, 158449),
])

# l02: a lockbox header (5) before each batch of the same lockbox.
write("l02_header_each_batch.lbx", [
    header(), service(),
    lockbox(1, LB, D), detail(1, 1, 5000, "501"), overflow(1, 1, "LN000501"),
    batch_total(1, LB, D, 1, 5000),
    lockbox(2, LB, D), detail(2, 1, 6000, "601"), overflow(2, 1, "LN000601"),
    detail(2, 2, 7000, "602"), overflow(2, 2, "LN000602"),
    batch_total(2, LB, D, 2, 13000),
    lockbox_total(LB, D, 3, 18000),
])

# l03: an empty transmission: headers and a trailer, nothing else.
write("l03_empty_transmission.lbx", [header(), service()])

# l04: lines shorter than the nominal length (trailing blanks stripped), CRLF.
write("l04_short_lines_crlf.lbx", [
    header(), lockbox(1, LB, D),
    detail(1, 1, 31416, "", remitter=""), overflow(1, 1, "LN000314"),
    detail(1, 2, 27183, "2718", remitter=""), overflow(1, 2, "LN000271"),
    batch_total(1, LB, D, 2, 58599),
    lockbox_total(LB, D, 2, 58599),
], pad=0, eol="\r\n")

# l05: an empty lockbox: its batch total and lockbox total zero.
write("l05_empty_lockbox_zero_totals.lbx", [
    header(), service(), lockbox(1, LB, D),
    batch_total(1, LB, D, 0, 0),
    lockbox_total(LB, D, 0, 0),
])

# l06: two lockboxes, the second deposited a day later.
write("l06_two_lockboxes.lbx", [
    header(),
    lockbox(1, LB, D), detail(1, 1, 100, "1"), overflow(1, 1, "LN000001"),
    batch_total(1, LB, D, 1, 100), lockbox_total(LB, D, 1, 100),
    lockbox(1, "7654321", "261128"), detail(1, 1, 200, "2"), overflow(1, 1, "LN000002"),
    batch_total(1, "7654321", "261128", 1, 200), lockbox_total("7654321", "261128", 1, 200),
])

# r05: a batch total that disagrees with its details.
write("r05_wrong_total.lbx", [
    header(), lockbox(1, LB, D),
    detail(1, 1, 5000, "501"), overflow(1, 1, "LN000501"),
    batch_total(1, LB, D, 1, 5001),
    lockbox_total(LB, D, 1, 5001),
])

# r06: two transmissions joined into one file.
with open("r06_concatenated.lbx", "w", newline="") as out:
    for name in ["l02_header_each_batch.lbx", "l06_two_lockboxes.lbx"]:
        with open(name, newline="") as f:
            out.write(f.read())

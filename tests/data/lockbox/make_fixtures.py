#!/usr/bin/env python3
"""Writes the lockbox fixtures of this folder, to the reader's default layout (docs/formats.md).

Run from this folder: `python3 make_fixtures.py`. The files are committed; this script only
documents how they were built and rebuilds them after a deliberate change.
"""

W = 80  # nominal record length


def pad(rec, width=W):
    assert len(rec) <= width, rec
    return rec.ljust(width)


def file_header(date="261120", time="0615"):
    # 1, priority 2-3, destination 4-13, origin 14-23, transmission date 24-29, time 30-33
    return pad("1" + "01" + "0210000210" + "0987654321" + date + time)


def service_header(date="261120"):
    # 2, destination 2-11, origin 12-21, reference code 22-31, date 32-37, record length 38-40
    return pad("2" + "0210000210" + "0987654321" + "LBX   0001" + date + "080")


def lockbox_header(lockbox, date, batch="001"):
    # 5, batch 2-4, (5-7 blank), lockbox 8-14, deposit date 15-20, destination 21-30, origin 31-40
    return pad("5" + batch + "   " + lockbox + date + "0210000210" + "0987654321")


def detail(batch, item, cents, routing, account, check, check_date, remitter, amount=None):
    # 6, batch 2-4, item 5-7, amount 8-17, routing 18-26, account 27-36, check number 37-46,
    # check date 47-52, remitter 53-82
    amount = amount if amount is not None else f"{cents:010d}"
    rec = ("6" + batch + item + amount + routing + account.rjust(10) + check.rjust(10)
           + check_date + remitter.ljust(30))
    assert len(rec) == 82, rec
    return rec


def overflow(batch, item, seq, last, data, kind="4"):
    # 4, batch 2-4, item 5-7, overflow type 8, sequence 9-10, last flag 11, data 12-41
    return pad("4" + batch + item + kind + f"{seq:02d}" + ("9" if last else "0") + data.ljust(30))


def batch_total(batch, lockbox, date, items, cents):
    # 7, batch 2-4, (5-7 zeros), lockbox 8-14, deposit date 15-20, items 21-23, amount 24-33
    return pad("7" + batch + "000" + lockbox + date + f"{items:03d}" + f"{cents:010d}")


def lockbox_total(lockbox, date, items, cents):
    # 8, (2-7 zeros), lockbox 8-14, deposit date 15-20, items 21-24, amount 25-34
    return pad("8" + "000000" + lockbox + date + f"{items:04d}" + f"{cents:010d}")


def trailer(count):
    # 9, record count 2-7
    return pad("9" + f"{count:06d}")


def payment(batch, item, cents, check, remitter, loans, routing="021000021",
            account="4455667788", check_date="111426"):
    """A detail and its overflow chain; `loans` is the list of overflow data values."""
    recs = [detail(batch, item, cents, routing, account, check, check_date, remitter)]
    for i, data in enumerate(loans):
        recs.append(overflow(batch, item, i + 1, i == len(loans) - 1, data))
    return recs


def with_trailer(recs, count=None):
    return recs + [trailer(count if count is not None else len(recs) + 1)]


def write(name, recs, eol="\n", tail=""):
    with open(name, "w", newline="") as f:
        f.write(eol.join(recs) + eol + tail)


LB1, D1 = "1234567", "261118"
LB2, D2 = "7654321", "261120"

good = [file_header(), service_header(), lockbox_header(LB1, D1)]
good += payment("001", "001", 25000, "10442", "MARIA GONZALEZ", ["LN000123"])
good += payment("001", "002", 123450, "2087", "ROBERT T SMITH",
                ["LN000456", "INV 2026-11 COUPON 2 OF 2", "MEMO NOV PAYMENT"])
good += payment("001", "003", 7525, "331", "ACME PLUMBING LLC", ["LN000007"],
                routing="111000025", account="90817263")
good += [batch_total("001", LB1, D1, 3, 25000 + 123450 + 7525)]
good += payment("002", "001", 50000, "5120", "LINDA CHEN", ["LN000999"])
good += payment("002", "002", 9999, "778", "J AND K DOE", ["LN001000", "PAY EXTRA TO PRINCIPAL"])
good += [batch_total("002", LB1, D1, 2, 50000 + 9999)]
good += [lockbox_total(LB1, D1, 5, 25000 + 123450 + 7525 + 50000 + 9999)]
good += [lockbox_header(LB2, D2)]
good += payment("001", "001", 100000, "90001", "NORTHWIND TRADERS INC", ["LN000042"])
good += payment("001", "002", 31416, "1207", "SAM PATEL", ["LN000314"])
good += [batch_total("001", LB2, D2, 2, 131416), lockbox_total(LB2, D2, 2, 131416)]
good = with_trailer(good)

# good.lbx: CRLF, some records padded to 160 columns, a blank line at the end.
padded = [r.ljust(160) if i % 4 == 1 else r for i, r in enumerate(good)]
write("good.lbx", padded, eol="\r\n", tail="\r\n")
# good_lf.lbx: the same records with LF and their trailing blanks stripped (short lines).
write("good_lf.lbx", [r.rstrip() for r in good])


def small(batch_cents, stated_batch=None, stated_lockbox=None, count=None, end=True):
    """One lockbox, one batch of one payment per amount in `batch_cents`."""
    recs = [file_header(), service_header(), lockbox_header(LB1, "261116")]
    for i, cents in enumerate(batch_cents):
        recs += payment("001", f"{i + 1:03d}", cents, str(3001 + i), f"PAYER {i + 1}",
                        [f"LN{200 + i:06d}"])
    total = sum(batch_cents)
    b = stated_batch if stated_batch is not None else (len(batch_cents), total)
    l = stated_lockbox if stated_lockbox is not None else (len(batch_cents), total)
    recs += [batch_total("001", LB1, "261116", *b), lockbox_total(LB1, "261116", *l)]
    return with_trailer(recs, count) if end else recs


write("wrong_batch_total.lbx", small([100000, 40000], stated_batch=(2, 150000)))
write("wrong_count.lbx", small([100000, 40000], count=12))
write("wrong_lockbox_total.lbx", small([100000, 40000], stated_lockbox=(2, 141000)))
write("missing_trailer.lbx", small([100000, 40000], end=False))

# truncated.lbx: the transfer stopped inside the second detail's amount (no final newline).
trunc = small([100000, 40000], end=False)[:6]
trunc[-1] = trunc[-1][:12]
with open("truncated.lbx", "w", newline="") as f:
    f.write("\n".join(trunc))

# detail_before_header.lbx: the lockbox header (5) is missing.
dbh = [file_header(), service_header()]
dbh += payment("001", "003", 25000, "10442", "MARIA GONZALEZ", ["LN000123"])
dbh += [batch_total("001", LB1, D1, 1, 25000), lockbox_total(LB1, D1, 1, 25000)]
write("detail_before_header.lbx", with_trailer(dbh))

# overflow_without_detail.lbx: the detail (6) of batch 002 item 001 is missing.
owd = [file_header(), service_header(), lockbox_header(LB1, D1)]
owd += payment("001", "001", 25000, "10442", "MARIA GONZALEZ", ["LN000123"])
owd += [batch_total("001", LB1, D1, 1, 25000)]
owd += [overflow("002", "001", 1, True, "LN000999")]
owd += [batch_total("002", LB1, D1, 1, 50000), lockbox_total(LB1, D1, 2, 75000)]
write("overflow_without_detail.lbx", with_trailer(owd))

# bad_amount.lbx: a letter O instead of a zero in the second detail's amount.
bad = [file_header(), service_header(), lockbox_header(LB1, D1)]
bad += payment("001", "001", 25000, "10442", "MARIA GONZALEZ", ["LN000123"])
bad += [detail("001", "002", 0, "021000021", "4455667788", "2087", "111426", "ROBERT T SMITH",
               amount="00001O2500"), overflow("001", "002", 1, True, "LN000456")]
bad += [batch_total("001", LB1, D1, 2, 37500), lockbox_total(LB1, D1, 2, 37500)]
write("bad_amount.lbx", with_trailer(bad))

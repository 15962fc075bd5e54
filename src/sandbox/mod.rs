//! A local stand-in for the subset of LoanPro that payimport uses (SPEC §7).

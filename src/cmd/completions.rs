//! `payimport completions SHELL` and `payimport man`: generated from the clap types, so they
//! name every command and option this binary has, and never drift from it.

use std::io::Write;

use clap::CommandFactory;
use clap::builder::PossibleValuesParser;

use crate::cli::Cli;
use crate::exit::Exit;

/// `payimport completions`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells we generate for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Writes the completion script for `shell` on stdout. `--source` completes to the names of
/// the sources in the settings file when one can be read, else to nothing (never file names).
pub fn completions(cli: &Cli, args: &CompletionsArgs) -> anyhow::Result<Exit> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = crate::cli::command();
    if let Ok(settings) = cli.load_settings() {
        let names: Vec<String> = settings.sources.keys().cloned().collect();
        cmd = cmd.mut_subcommand("import", |import| {
            import.mut_args(|a| match a.get_id().as_str() {
                "source" => a
                    .value_parser(PossibleValuesParser::new(names.clone()))
                    .value_hint(clap::ValueHint::Unknown),
                _ => a,
            })
        });
    }
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "payimport", &mut out);
    write_stdout(&out)
}

/// Writes the man page (roff, section 1) on stdout: the top command with every subcommand
/// and its options, so `man payimport` is the whole reference.
pub fn man() -> anyhow::Result<Exit> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    // The commands, each with its section below (clap_mangen would point to pages such as
    // payimport-import(1), which are not installed).
    writeln!(out, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        writeln!(
            out,
            ".TP\n\\fBpayimport {}\\fR\n{} (section PAYIMPORT {} below)",
            sub.get_name(),
            roff(&about),
            sub.get_name().to_uppercase()
        )?;
    }
    // One section per command with its own options: the top page lists them by name only.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name().to_string();
        let sub = sub.clone().bin_name(format!("payimport {name}"));
        writeln!(out, ".SH \"PAYIMPORT {}\"", name.to_uppercase())?;
        let sub_man = clap_mangen::Man::new(sub);
        let mut section = Vec::new();
        sub_man.render_synopsis_section(&mut section)?;
        sub_man.render_description_section(&mut section)?;
        sub_man.render_options_section(&mut section)?;
        // Each sub-render starts its own `.SH`; demote them to `.SS` under this command.
        let text = String::from_utf8_lossy(&section).replace(".SH ", ".SS ");
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(MAN_TAIL.as_bytes());
    man.render_version_section(&mut out)?;
    write_stdout(&out)
}

/// Text for a roff line: backslashes and hyphens escaped, no request at its start.
fn roff(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with(['.', '\'']) {
        format!("\\&{text}")
    } else {
        text
    }
}

/// What the clap types cannot say: exit status, environment, files (docs/ has the details).
const MAN_TAIL: &str = r#".SH "EXIT STATUS"
The same for every command.
.TP
\fB0\fR
Done: every row is posted or already posted.
.TP
\fB1\fR
Done, but some rows need attention (rejected, failed, unsent, unknown, unmatched); the summary
and the report say which. A run stopped by SIGTERM, SIGINT or SIGHUP also ends with 1.
.TP
\fB2\fR
Fatal: bad arguments or settings, a file refused whole (nothing of it is sent), LoanPro refused
the credentials or redirected, the ledger is in use by another run, an unknown run id, an I/O
error. The message on stderr names the file, line and field where there is one.
.TP
\fB128+N\fR
A second signal N stopped the run at once; the next run reads back what it left uncertain.
.SH ENVIRONMENT
.TP
\fBPAYIMPORT_SETTINGS\fR
The settings file when \fB\-\-settings\fR is not given (else \fI./payimport.toml\fR).
.TP
the variable named by \fBloanpro.token_env\fR (\fBLOANPRO_TOKEN\fR in the samples)
The LoanPro API token. It is never read from a file and never logged.
.TP
\fBRUST_LOG\fR
A log filter (tracing's syntax) that replaces the one \fB\-v\fR and \fB\-q\fR choose.
.TP
\fBNO_COLOR\fR
When set and not empty, log lines carry no colour on a terminal either (off a terminal they
never do).
.SH FILES
.TP
\fI./payimport.toml\fR
The settings file by default.
.TP
the ledger (\fB[ledger] path\fR, relative to the settings file's folder; or \fB\-\-ledger\fR)
The SQLite ledger, with SQLite's \fI\-wal\fR and \fI\-shm\fR files beside it and a
\fI.lock\fR file that names the run and process holding it.
.TP
\fB[metrics] textfile\fR (or \fB\-\-metrics\-file\fR)
Prometheus metrics written after every import and retry, for node_exporter's textfile collector.
.TP
\fIpayimport\-demo/\fR
What \fBpayimport demo\fR writes in the working folder: samples, settings, ledger, report.
.SH "SEE ALSO"
The behaviour reference in the repository's \fIdocs/\fR folder (settings, bank formats, row
states, exit status, the report), and its \fIREADME.md\fR.
"#;

fn write_stdout(bytes: &[u8]) -> anyhow::Result<Exit> {
    crate::cli::ignore_broken_pipe((|| {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()?;
        Ok(())
    })())?;
    Ok(Exit::Done)
}

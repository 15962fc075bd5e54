//! The `payimport` binary: parse arguments, set up logging, run, map the result to an exit code.

use std::process::ExitCode;

// Rows are allocated on the reading thread and freed on the writing one; glibc's malloc makes
// every such free contend for the other thread's arena (a fifth of a dry run's time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = payimport::Cli::parse_args();
    payimport::init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("payimport: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(payimport::run(cli)) {
        Ok(exit) => ExitCode::from(exit as u8),
        // The reader of stdout went away (`payimport runs | head`): it had what it wanted, and
        // that is no error (ripgrep's rule).
        Err(e) if payimport::cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payimport: error: {}", payimport::cli::error_text(&e));
            ExitCode::from(payimport::Exit::Fatal as u8)
        }
    }
}

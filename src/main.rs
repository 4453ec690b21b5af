//! The `ftpfs` binary: parse the arguments, validate them, mount. A failure is one line,
//! `ftpfs: error: ...`, printed last.

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    if let Some(mountpoint) = ftpfs::cli::stats_request(&argv) {
        return match ftpfs::stats::read_from(&mountpoint) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ftpfs: error: {}: {e}", mountpoint.display());
                ExitCode::FAILURE
            }
        };
    }
    let args = match ftpfs::cli::parse(argv) {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("{}", ftpfs::cli::usage_error_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = if args.fake {
        // `mount -f`: check the arguments as a mount would (no network, no prompt), mount nothing.
        ftpfs::Config::check(args)
    } else {
        ftpfs::logging::init(args.debug, args.trace_ftp);
        ftpfs::Config::from_args(args).and_then(ftpfs::run)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{}", ftpfs::logging::error_line(&msg));
            ExitCode::FAILURE
        }
    }
}

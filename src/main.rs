//! The `corral` binary: parse the command line, run one command, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `corral __exec -- CMD…`: the socket-activation shim an instance is started through, which
    // sets LISTEN_PID to its own pid and becomes CMD (same pid). Not a user command.
    if std::env::args().nth(1).as_deref() == Some(corral::net::EXEC_SUBCOMMAND) {
        let argv: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
        let error = corral::net::exec_with_listen_pid(&argv);
        eprintln!(
            "corral: cannot run {:?}: {error}",
            argv.first().map_or("", String::as_str)
        );
        return ExitCode::from(127);
    }
    // `corral __spawner`: the process the controller starts its instances through.
    if std::env::args().nth(1).as_deref() == Some(corral::children::spawner::SUBCOMMAND) {
        return ExitCode::from(corral::children::spawner::run());
    }
    corral::cli::answer_completion_if_asked();
    let cli = corral::cli::Cli::parse();
    match corral::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

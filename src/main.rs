use std::process::ExitCode;

fn main() -> ExitCode {
    let code = forgesafe::cli::run(std::env::args_os().collect());
    ExitCode::from(code as u8)
}

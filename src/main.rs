use std::process::ExitCode;

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (object store, forge API, Kubernetes API):
    // rustls refuses to guess when more than one is compiled in.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let code = forgesafe::cli::run(std::env::args_os().collect());
    ExitCode::from(code as u8)
}

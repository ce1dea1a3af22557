//! The `weir` binary. Everything lives in `weir-cli`; this file only hands over.

fn main() -> std::process::ExitCode {
    weir_cli::main()
}

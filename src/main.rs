fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(lbc::run(std::env::args_os()))
}

fn main() {
    std::process::exit(arcp_conform::cli::main());
}

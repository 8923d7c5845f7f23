// The runtime suite is embedded with include_dir!; rebuild when cases change.
fn main() {
    println!("cargo:rerun-if-changed=cases");
    println!("cargo:rerun-if-changed=schemas");
}

//! Rebuilds the crate when a file under `assets/` changes: `include_dir!`
//! embeds them, but cargo does not know to watch them on its own.
fn main() {
    println!("cargo:rerun-if-changed=assets");
}

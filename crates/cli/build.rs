//! Keeps `libtorch_cuda` among the binary's needed libraries even though no Rust code calls into it directly;
//! without this the linker's `--as-needed` drops it and CUDA reads as unavailable at run time.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let lib = std::env::var("LIBTORCH").map(|l| std::path::PathBuf::from(l).join("lib"));
    let has_cuda = lib.map(|l| l.join("libtorch_cuda.so").exists()).unwrap_or(true);
    if has_cuda {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

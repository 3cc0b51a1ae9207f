//! Builds the native C++ extension (`native/shift_native.cpp`, `native/relu_max_pool.cpp`) against the libtorch that torch-sys links.
//!
//! torch-sys declares `links = "tch"` and exports its library folder as `DEP_TCH_LIBTORCH_LIB`; the headers sit
//! beside it. When the libtorch build has CUDA (`libtorch_cuda.so` and the CUDA headers are present), the
//! extension is compiled with `SHIFT_WITH_CUDA` and links `torch_cuda`, which also keeps that library loaded in
//! every binary (the linker's `--as-needed` would otherwise drop it and CUDA would read as unavailable).

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=native");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys did not export DEP_TCH_LIBTORCH_LIB; is torch-sys a direct dependency?");
    let lib = std::fs::canonicalize(&lib).unwrap_or_else(|e| panic!("libtorch lib folder {lib}: {e}"));
    let root = lib.parent().expect("libtorch lib folder has a parent").to_path_buf();
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("native/shift_native.cpp")
        .file("native/relu_max_pool.cpp")
        // The CPU kernels are only worth having optimised, also in test (debug) builds.
        .opt_level(2)
        .flag("-std=c++17")
        .flag("-w")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        // at::parallel_for is inline OpenMP in libtorch's CPU builds (AT_PARALLEL_OPENMP): compiled with OpenMP
        // and linked against libtorch's own libgomp, the CPU kernels share libtorch's thread pool and setting.
        .flag("-fopenmp")
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"));
    println!("cargo:rustc-link-search=native={}", lib.display());
    match libtorch_gomp(&lib) {
        Some(name) => println!("cargo:rustc-link-lib=dylib:+verbatim={name}"),
        None => println!("cargo:rustc-link-lib=dylib=gomp"),
    }
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-lib=dylib=torch_cuda");
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
        match cuda_headers(&root) {
            Some(cuda_include) => {
                build.define("SHIFT_WITH_CUDA", None).include(cuda_include);
            }
            None => println!(
                "cargo:warning=libtorch has CUDA but the CUDA headers (crt/host_defines.h) were not found; \
                 CUDA device names and graph capture are disabled. `cargo xtask setup` installs them."
            ),
        }
    }
    build.compile("shift_native");
}

/// The OpenMP runtime libtorch ships beside itself (`libgomp.so.1` in the PyPI wheels, `libgomp-<hash>.so.1` in
/// the libtorch archives), so the extension and libtorch share one runtime and one thread pool.
fn libtorch_gomp(lib: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(lib)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libgomp") && n.contains(".so"))
        .collect();
    names.sort();
    names.into_iter().next()
}

/// The CUDA headers for a CUDA build of libtorch: `CUDA_HOME/include`, or the PyPI wheels'
/// `site-packages/nvidia/cu*/include` (`cuda-toolkit[crt]` adds the `crt/` headers the runtime API needs).
fn cuda_headers(root: &Path) -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    let mut candidates = Vec::new();
    if let Ok(home) = std::env::var("CUDA_HOME") {
        candidates.push(PathBuf::from(home).join("include"));
    }
    if let Some(site) = root.parent() {
        if let Ok(entries) = std::fs::read_dir(site.join("nvidia")) {
            for e in entries.flatten() {
                candidates.push(e.path().join("include"));
            }
        }
    }
    candidates.push(PathBuf::from("/usr/local/cuda/include"));
    candidates
        .into_iter()
        .find(|c| c.join("cuda_runtime_api.h").exists() && c.join("crt/host_defines.h").exists())
}

//! Compiles `proto/` with protox (pure Rust, no protoc on the machine) and generates the tonic
//! services. The descriptor set, with source comments, is written next to the generated code so
//! server reflection can serve the documented API.

use std::path::PathBuf;

use prost::Message;

const ROOTS: &[&str] = &[
    "supportaccess/v1/service.proto",
    // Referenced only by name in operation_info, but grpcurl needs it to decode the Any.
    "supportaccess/v1/operations.proto",
    "google/longrunning/operations.proto",
    "google/rpc/error_details.proto",
    "google/rpc/code.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let include = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    println!("cargo:rerun-if-changed={}", include.display());

    // Paths relative to the include root, so shared imports are loaded once (see style.md).
    let fds = protox::Compiler::new([&include])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(ROOTS)?
        .file_descriptor_set();

    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}

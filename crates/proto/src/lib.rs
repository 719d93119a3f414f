//! The support-access gRPC API, generated from `proto/` at build time.
//!
//! `supportaccess::v1` is our API; `google::longrunning` and `google::rpc` are Google's shared
//! protos that it uses (vendored under `proto/google`). [`FILE_DESCRIPTOR_SET`] holds every file
//! with its comments, for server reflection.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Our API, package `supportaccess.v1`.
pub mod supportaccess {
    pub mod v1 {
        tonic::include_proto!("supportaccess.v1");
    }
}

/// Google's shared protos.
pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
    pub mod longrunning {
        tonic::include_proto!("google.longrunning");
    }
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub use supportaccess::v1;

/// The encoded `FileDescriptorSet` of every served proto file, with source comments.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

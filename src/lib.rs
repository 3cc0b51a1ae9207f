//! shift: transfer learning and unsupervised domain adaptation on libtorch.
//!
//! This facade re-exports the workspace crates so that end-to-end tests and users can depend on one package.

pub use shift_grl as grl;
pub use shift_tensor as tensor;

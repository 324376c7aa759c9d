//! Helpers the workspace's tests share and the shipped crates do not carry: starting MPI jobs
//! with the options a workstation or CI runner needs, and finding the MPI scenario driver.

pub mod launch;
pub mod python;

//! Collecting forge data onto local disk: reading gickup's configuration and keeping bare
//! git mirrors up to date.

pub mod config;
pub mod mirror;
pub mod github;
pub mod lfs;
pub mod metadata;
pub mod run;
pub mod state;

pub use run::{collect, CollectOptions, CollectReport};

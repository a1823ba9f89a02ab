//! Kanister's Go structs that blueprints reach into, as the template engine looks them up.
//!
//! In Kanister `.Profile` is a Go struct (`param.Profile`): templates access its fields by Go
//! field name (`.Profile.Location.Bucket`), while `toJson` prints the JSON tags in *declaration
//! order*. Our context is JSON, so `prepare_context` tags these objects with their struct name
//! and the Profile's one model (`crate::profile::kanister`) supplies both facts.

use crate::profile::kanister::GO_STRUCTS;
pub use crate::profile::kanister::{FieldKind, StructDef};

pub fn find(go_type: &str) -> Option<&'static StructDef> {
    GO_STRUCTS.iter().find(|s| s.go_type == go_type)
}

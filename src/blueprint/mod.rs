//! Kanister-format Blueprints: Go templates rendered by tera (`template`),
//! the Blueprint data model (`model`), static checks (`lint`) and rendering
//! an action's phases (`render`).

pub mod executor;
pub mod lint;
pub mod model;
pub mod render;
pub mod template;

//! Kanister-format Blueprints: Go templates rendered by tera (`template`), the Blueprint data
//! model (`model`), static checks (`lint`), rendering an action's phases (`render`), Kanister's
//! template context (`context`) and running an action (`executor`).
//!
//! The commands over them, each with its options and output sinks: `run` (`blueprint run`) and
//! `commands` (`blueprint lint`, `blueprint render`, `template render`).

pub mod commands;
pub mod context;
pub mod executor;
pub mod lint;
pub mod model;
pub mod render;
pub mod run;
pub mod template;

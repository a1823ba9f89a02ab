//! Kanister's Go structs that blueprints reach into, described as data.
//!
//! In Kanister `.Profile` is a Go struct (`param.Profile`): templates access its
//! fields by Go field name (`.Profile.Location.Bucket`), while `toJson` prints
//! the JSON tags (`"bucket"`) in *declaration order* — `encoding/json` sorts map
//! keys but never struct fields. Our context is JSON, so `prepare_context` tags
//! these objects with their struct name and this table supplies both facts.

/// A field's Go type, as far as templates can tell: it decides the zero
/// value a missing field gets and whether nested objects are structs.
#[derive(Clone, Copy)]
pub enum FieldKind {
    Str,
    Bool,
    /// A pointer to a type we do not describe: zero value a typed nil.
    Ptr(&'static str),
    Struct(&'static str),
    PtrStruct(&'static str),
}

use FieldKind::*;

/// One Go struct: its type name as Go prints it and its fields in declaration
/// order as (Go field name, JSON key, kind).
pub struct StructDef {
    pub go_type: &'static str,
    pub fields: &'static [(&'static str, &'static str, FieldKind)],
}

/// Source: kanister `pkg/param/param.go` (Profile, Credential, KeyPair) and
/// `pkg/apis/cr/v1alpha1/types.go` (Location).
pub const KANISTER_STRUCTS: &[StructDef] = &[
    StructDef {
        go_type: "param.Profile",
        fields: &[
            ("Location", "Location", Struct("v1alpha1.Location")),
            ("Credential", "Credential", Struct("param.Credential")),
            ("SkipSSLVerify", "SkipSSLVerify", Bool),
        ],
    },
    StructDef {
        go_type: "v1alpha1.Location",
        fields: &[
            ("Type", "type", Str),
            ("Bucket", "bucket", Str),
            ("Endpoint", "endpoint", Str),
            ("Prefix", "prefix", Str),
            ("Region", "region", Str),
        ],
    },
    StructDef {
        go_type: "param.Credential",
        fields: &[
            ("Type", "Type", Str),
            ("KeyPair", "KeyPair", PtrStruct("*param.KeyPair")),
            ("Secret", "Secret", Ptr("*v1.Secret")),
            (
                "KopiaServerSecret",
                "KopiaServerSecret",
                Ptr("*param.KopiaServerCreds"),
            ),
        ],
    },
    StructDef {
        go_type: "*param.KeyPair",
        fields: &[("ID", "ID", Str), ("Secret", "Secret", Str)],
    },
];

pub fn find(go_type: &str) -> Option<&'static StructDef> {
    KANISTER_STRUCTS.iter().find(|s| s.go_type == go_type)
}

impl StructDef {
    /// The JSON key holding Go field `name`, if the struct has that field.
    pub fn json_key(&self, go_field: &str) -> Option<&'static str> {
        self.fields.iter().find(|f| f.0 == go_field).map(|f| f.1)
    }
}

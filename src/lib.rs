//! `astro-deploy`: turns an Astropods `DeployRequest` plus the agent's build record into
//! validated Kubernetes manifests.
//!
//! The data flows one way: [`api::DeployRequest`] + [`catalog::BuildRecord`] →
//! [`resolve`] (validate, names, env, credentials, endpoints) → [`render`] (templates →
//! typed, validated [`render::Manifest`]s in apply order). The library does no I/O and reads
//! no clock or randomness: the same input gives the same bytes.

pub mod api;
pub mod catalog;
pub mod error;
pub mod input;
pub mod kind;
pub mod naming;
pub mod render;
pub mod resolve;
pub mod spec;

pub use error::{Error, FieldError, Result};

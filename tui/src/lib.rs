//! `postagram`: the Postagram terminal client.
//!
//! The client is an Elm-style update/effect loop with per-screen components: an async event
//! loop ([`runtime::run`]) turns terminal events, clock ticks and the outcomes of background
//! work into [`action::Action`]s; [`app::App::update`] routes each to the overlay or screen
//! it belongs to and returns [`action::Effect`]s, which the [`runtime::Executor`] runs on
//! tokio tasks; the UI is drawn from the state by [`app::render`], a pure function.
//!
//! Each screen in [`screens`] (feed, compose, login) owns its state, its update (keys,
//! paste, API results) answering with a [`screens::outcome::Out`] (effects, a status
//! message, a [`screens::outcome::Nav`] request for the app) and its `view::render`, which
//! reads only its state and the read-only [`screens::context::Ctx`]; no screen knows the
//! app. [`app`] keeps which screen and overlay are in front, the session, global keys and
//! the routing. Overlays and widgets are in [`components`]. Key handling, the hint bar and
//! the help overlay share one table, [`keymap::KEYMAP`].

pub mod action;
pub mod api;
pub mod app;
pub mod components;
pub mod config;
pub mod keymap;
pub mod layout;
pub mod picture;
pub mod runtime;
pub mod screens;
pub mod term;

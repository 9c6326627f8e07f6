//! `postagram`: the Postagram terminal client.
//!
//! The client follows ratatui's component template: an async event loop
//! ([`runtime::run`]) turns terminal events, clock ticks and the outcomes of background work
//! into [`action::Action`]s; [`app::App::update`] applies them to the state and returns
//! [`action::Effect`]s, which the [`runtime::Executor`] runs on tokio tasks; the UI is drawn
//! from the state by [`app::render`], a pure function. Key handling, the hint bar and the help
//! overlay share one table, [`keymap::KEYMAP`].

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

//! Server-rendered pages at `/`, for people rather than programs: the public disclosure
//! (search by name or credit code, filters by sector and severity), sign-in, the intake
//! form, the supervisor's deadline board, a handler's unit cases and the case page with
//! each role's actions. zh-CN first with English labels; plain HTML forms, no
//! JavaScript; labels on every field, headings in order, overdue marked in words as
//! well as in red. Public pages beside the disclosure: a subject's page and the sector
//! lists ([`public`]), the assessment ranking with its SVG chart ([`ranking`]); the
//! auditor's bundle download from a timeline ([`bundle`]).
//!
//! An adapter over the application layer like the JSON API: the same use-cases
//! (`App::file_complaint`, `complaint_for`, `complaint_list`, `complaint_command`,
//! `disclose_reporter`), so roles, units and refusals are exactly the API's, and a
//! failure is the API's [`ApiError`] (its status from the one mapping in
//! `probity_http::error`) shown as a page. Templates are [maud](https://maud.lambda.xyz)
//! macros compiled into the binary (ADR 0017). Sign-in and CSRF: [`session`].
// The page router (with the API it nests) outgrows the default query depth.
#![recursion_limit = "256"]

pub mod bundle;
pub mod limit;
pub mod pages;
pub mod public;
pub mod ranking;
pub mod restrictions;
pub mod session;

use axum::routing::{get, post};
use axum::Router;
use probity_http::AppState;

/// The pages, over the API's state (merge into the binary's router).
pub fn router(state: AppState) -> Router {
    // The public pages, under the public rate limit ([`limit`]).
    let public = Router::new()
        .route("/disclosure", get(pages::disclosure))
        .route("/subjects/{code}", get(public::subject))
        .route("/sector-lists", get(public::sector_lists))
        .route("/sector-lists/{sector}", get(public::sector_list))
        .route("/ranking", get(ranking::ranking))
        .route("/restrictions", get(restrictions::restriction_page))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit::limit_pages,
        ));
    Router::new()
        .merge(public)
        .route("/", get(pages::home))
        .route("/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/sign-out", post(pages::sign_out))
        .route(
            "/intake/new",
            get(pages::intake_form).post(pages::intake_file),
        )
        .route("/board", get(pages::board))
        .route("/unit", get(pages::unit_cases))
        .route("/cases/{id}", get(pages::case_page))
        .route("/cases/{id}/timeline", get(pages::timeline))
        .route("/cases/{id}/bundle", get(bundle::download))
        .route("/cases/{id}/{verb}", post(pages::case_action))
        .with_state(state)
}

//! A bound supervisor's jurisdiction over complaints reaches any depth under its unit,
//! as on integrity records (issue 10, item 3; ADR 0020): a city government's supervisor
//! reads, acts on and sees on the board a case of a department of a district government
//! under the city; another county's supervisor does not.

use probity_http::Role;
use probity_tests::{spawn_app, Mode, TestApp, UNIT_A, UNIT_B};
use serde_json::json;

crate::both_modes!(a_bound_supervisor_reaches_complaints_at_any_depth_under_its_unit);

/// A district government under the city UNIT_A (UNIT_B is its department).
const UNIT_D: &str = "12360400055555556F";
/// A county government outside the city.
const UNIT_C: &str = "91330100716105852F";

async fn bound(app: &TestApp, unit: &str) -> String {
    probity_http::create_token(
        &app.app.db,
        Role::Supervisor,
        Some(probity_domain::CreditCode::parse(unit).unwrap()),
        Some("bound".into()),
    )
    .await
    .unwrap()
}

async fn a_bound_supervisor_reaches_complaints_at_any_depth_under_its_unit(mode: Mode) {
    let app = spawn_app(mode).await;
    for body in [
        json!({"credit_code": UNIT_A, "name": "九江市人民政府", "kind": "government"}),
        json!({"credit_code": UNIT_D, "name": "九江市某区人民政府", "kind": "government", "parent_code": UNIT_A}),
        json!({"credit_code": UNIT_B, "name": "某区某局", "kind": "department", "parent_code": UNIT_D}),
        json!({"credit_code": UNIT_C, "name": "某县人民政府", "kind": "government"}),
    ] {
        let r = app.post("/api/v1/subjects", &app.admin, &body).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
    let city = bound(&app, UNIT_A).await;
    let county = bound(&app, UNIT_C).await;

    let id = app.file_about("complaint", UNIT_B).await;
    app.verb(&id, "accept", &app.intake, json!({})).await;
    app.verb(&id, "dispatch", &app.intake, json!({ "unit": UNIT_B }))
        .await;

    // Reads: two levels down is within the city's authority, never the county's. The
    // authority is read from the subjects' views, projected from the bus on Postgres +
    // NATS: the city's read holds once they have caught up.
    let path = format!("/api/v1/complaints/{id}");
    app.eventually(&path, &city, |c| c["unit"] == UNIT_B).await;
    assert_eq!(app.get(&path, &county).await.status.as_u16(), 404);

    // Acting: the city's supervisor reaches the aggregate (which refuses a case not yet
    // overdue); the county's is refused before it.
    let supervise = format!("/api/v1/complaints/{id}/supervise");
    let note = json!({"note": "请按期办理"});
    app.post(&supervise, &city, &note)
        .await
        .assert_problem(409, "invalid_transition");
    app.post(&supervise, &county, &note)
        .await
        .assert_problem(403, "forbidden");

    // The board: the city sees the case's sign deadline, the county does not.
    let on = |b: &serde_json::Value| {
        b["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|e| e["case_id"] == id.as_str()))
    };
    app.eventually("/api/v1/deadlines", &city, on).await;
    let board = app.get("/api/v1/deadlines", &county).await;
    assert!(!on(board.assert_ok()), "{}", board.body);
    app.app.stop().await;
}
